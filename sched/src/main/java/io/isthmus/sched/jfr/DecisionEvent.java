package io.isthmus.sched.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** One scheduling decision: who gets the engine next and why. Made, filled and committed on the scheduler's thread. */
@Name("io.isthmus.sched.Decision")
@Label("GPU Scheduling Decision")
@Category({"Isthmus", "GPU Scheduler"})
@Description("The scheduler picked the next vGPU (or idled)")
@StackTrace(false)
public final class DecisionEvent extends jdk.jfr.Event {
    /** The vGPU picked, -1 for none (idle), -2 for an empty fixed-share slot. */
    @Label("vGPU")
    public int vgpu;
    /** Engine time of the decision, ns. */
    @Label("Engine Time")
    public long engineTime;
    /** Whether a reservation, not the policy, picked it. */
    @Label("Reservation")
    public boolean reservation;
    /** vGPUs with work at the time. */
    @Label("Backlogged")
    public int backlogged;
}
