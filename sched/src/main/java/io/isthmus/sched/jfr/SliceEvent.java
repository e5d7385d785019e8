package io.isthmus.sched.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/** One vGPU's turn on the engine, in engine time. Made, filled and committed on the scheduler's thread. */
@Name("io.isthmus.sched.Slice")
@Label("GPU Slice")
@Category({"Isthmus", "GPU Scheduler"})
@Description("A vGPU's turn on a GPU engine; times are the engine's clock (virtual for a simulated engine)")
@StackTrace(false)
public final class SliceEvent extends jdk.jfr.Event {
    /** The vGPU. */
    @Label("vGPU")
    public int vgpu;
    /** Engine time the slice began, ns. */
    @Label("Engine Start")
    @Timespan(Timespan.NANOSECONDS)
    public long engineStart;
    /** Slice granted, ns. */
    @Label("Granted")
    @Timespan(Timespan.NANOSECONDS)
    public long granted;
    /** Engine time used, ns (more than granted when the last item overran). */
    @Label("Ran")
    @Timespan(Timespan.NANOSECONDS)
    public long ran;
    /** Items run. */
    @Label("Items")
    public int items;
}
