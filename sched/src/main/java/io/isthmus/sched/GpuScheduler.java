package io.isthmus.sched;

import io.isthmus.sched.engine.GpuEngine;
import io.isthmus.sched.jfr.DecisionEvent;
import io.isthmus.sched.jfr.SliceEvent;
import io.isthmus.sched.policy.Policies;
import io.isthmus.sched.policy.SchedulingPolicy;
import java.util.Arrays;
import jdk.jfr.EventType;
import org.jctools.queues.atomic.MpscAtomicArrayQueue;

/**
 * Shares one {@link GpuEngine} among vGPUs: takes submissions from any thread, and on its own thread grants the engine
 * to one vGPU at a time for a slice chosen by its {@link SchedulingPolicy}, enforcing per-vGPU caps (maximum share)
 * and reservations (minimum share) on top through its share limits (caps as token buckets, reservations as credit).
 *
 * <p>Per decision: new work is learned from a doorbell queue (a vGPU rings it when its queue goes from empty to not),
 * capped vGPUs whose budget has refilled are released, a reservation that has fallen behind may take the turn, else
 * the policy picks; the picked vGPU runs items until its slice is used (the last one may overrun; the policy charges
 * it). A capped vGPU whose bucket is empty is held back until it refills, and under the non-work-conserving policies
 * its turns stay idle. Nothing here allocates per decision or per item, with JFR off or on.
 *
 * <p>Lifetime: as long as its engine. Thread-safety: {@link VGpu#submit} from any thread; everything else (join,
 * leave, reweight, run) from one thread, the scheduler's.
 */
public final class GpuScheduler {
    /** How much unused cap or reservation a vGPU may bank: this much engine time times its share. */
    public static final long CAP_WINDOW_NANOS = 100_000_000L;
    /** Default per-vGPU submission queue capacity. */
    public static final int DEFAULT_QUEUE_CAPACITY = 256;
    // JFR events are made only while recorded: with a large caller (a vGPU's completion path inlined into step) the
    // JIT may not prove a made-and-dropped event dead, and it would cost one allocation per decision.
    private static final EventType DECISION_EVENT = EventType.getEventType(DecisionEvent.class);
    private static final EventType SLICE_EVENT = EventType.getEventType(SliceEvent.class);

    private final SchedulerConfig config;
    private final GpuEngine engine;
    private final SchedulingPolicy policy;
    private final int queueCapacity;
    private final VGpu[] table;
    private final int[] freeIds;
    private int freeCount;
    private final MpscAtomicArrayQueue<VGpu> doorbell;
    private SchedListener[] listeners = new SchedListener[0];

    private final ShareLimits limits;
    private final int[] released;

    private int current = -1;
    private int backloggedCount, joinedCount;
    private long decisions, contextSwitches, idleNanos, switchNanos, busyNanos;

    /** A scheduler for {@code config} over {@code engine}, with the policy the configuration names. */
    public GpuScheduler(SchedulerConfig config, GpuEngine engine) {
        this(config, engine, Policies.create(config), DEFAULT_QUEUE_CAPACITY);
    }

    /**
     * A scheduler with an explicit policy (the benchmarks' baseline) and queue capacity.
     *
     * @param queueCapacity per-vGPU submission queue capacity (rounded up to a power of two by JCTools)
     */
    public GpuScheduler(SchedulerConfig config, GpuEngine engine, SchedulingPolicy policy, int queueCapacity) {
        if (queueCapacity < 2) {
            throw new ConfigurationException("queue capacity " + queueCapacity + " is too small; use 2 or more");
        }
        this.config = config;
        this.engine = engine;
        this.policy = policy;
        this.queueCapacity = queueCapacity;
        int n = config.maxVGpus();
        table = new VGpu[n];
        freeIds = new int[n];
        for (int i = 0; i < n; i++) {
            freeIds[i] = n - 1 - i;
        }
        freeCount = n;
        // At most one doorbell is outstanding per VGpu object; left ones may still ring once (their work is returned).
        doorbell = new MpscAtomicArrayQueue<>(Math.max(16, 2 * n + 16));
        limits = new ShareLimits(n);
        released = new int[n];
    }

    /** @return its configuration */
    public SchedulerConfig config() {
        return config;
    }

    /** @return its engine */
    public GpuEngine engine() {
        return engine;
    }

    /** @return its policy (for inspection; drive it only through this scheduler) */
    public SchedulingPolicy policy() {
        return policy;
    }

    /** Adds a listener; called on the scheduler's thread. */
    public void addListener(SchedListener l) {
        listeners = Arrays.copyOf(listeners, listeners.length + 1);
        listeners[listeners.length - 1] = l;
    }

    /**
     * A vGPU joins, with no work yet.
     *
     * @param completion where its items go when completed or returned
     * @return its handle, for submitting work
     * @throws ConfigurationException when the engine is full or reservations would add up past 100 %
     */
    public VGpu join(VGpuConfig vc, Completion completion) {
        if (freeCount == 0) {
            throw new ConfigurationException("the engine is full: it already has " + config.maxVGpus()
                    + " vGPUs (maxVGpus); raise maxVGpus or remove a vGPU first");
        }
        limits.checkReservation(vc.reservation(), 0);
        int id = freeIds[--freeCount];
        VGpu g = new VGpu(id, this, queueCapacity, completion, vc);
        table[id] = g;
        long now = engine.now();
        limits.configure(id, vc, now);
        joinedCount++;
        policy.join(id, vc.weight(), vc.latency());
        for (SchedListener l : listeners) {
            l.joined(id, vc, now);
        }
        return g;
    }

    /**
     * Changes a vGPU's weight (and cap, reservation, latency class) while it runs; what it is owed or owes is kept.
     *
     * @throws ConfigurationException when reservations would add up past 100 %
     */
    public void reconfigure(VGpu g, VGpuConfig vc) {
        checkLive(g);
        limits.checkReservation(vc.reservation(), limits.reservation(g.id));
        int oldWeight = g.config.weight();
        boolean latencyChanged = vc.latency() != g.config.latency();
        g.config = vc;
        limits.configure(g.id, vc, engine.now());
        if (latencyChanged) {
            boolean was = g.backlogged && !limits.throttled(g.id);
            if (was) {
                policy.drained(g.id);
            }
            policy.leave(g.id);
            policy.join(g.id, vc.weight(), vc.latency());
            if (was) {
                policy.backlogged(g.id);
            }
        } else if (oldWeight != vc.weight()) {
            policy.reweight(g.id, vc.weight());
        }
    }

    /** Changes a vGPU's weight while it runs. @see #reconfigure */
    public void reweight(VGpu g, int weight) {
        reconfigure(g, g.config.withWeight(weight));
    }

    /**
     * A vGPU leaves. Its queued work is never dropped: with {@link LeaveMode#DRAIN} it keeps its turns until its queue
     * is empty, with {@link LeaveMode#RETURN} every queued item goes back to its {@link Completion} as
     * {@link WorkStatus#RETURNED} now. Either way it refuses new submissions from now on.
     */
    public void leave(VGpu g, LeaveMode mode) {
        checkLive(g);
        g.closed = true;
        drainDoorbell(engine.now());
        if (mode == LeaveMode.RETURN || !g.backlogged) {
            remove(g);
            returnQueued(g);
        } else {
            g.leaving = true;
        }
    }

    private void checkLive(VGpu g) {
        if (g.scheduler != this || g.gone || table[g.id] != g) {
            throw new IllegalStateException(g + " is not on this engine (it left, or belongs to another scheduler)");
        }
    }

    private void remove(VGpu g) {
        if (g.backlogged) {
            g.backlogged = false;
            backloggedCount--;
            policy.drained(g.id);
        }
        limits.remove(g.id);
        policy.leave(g.id);
        table[g.id] = null;
        freeIds[freeCount++] = g.id;
        g.gone = true;
        joinedCount--;
        if (current == g.id) {
            current = -1;
        }
        for (SchedListener l : listeners) {
            l.left(g.id, engine.now());
        }
    }

    private void returnQueued(VGpu g) {
        WorkItem it;
        while ((it = g.queue.poll()) != null) {
            it.status = WorkStatus.RETURNED;
            it.completedNanos = engine.now();
            g.decrementPending();
            g.completion.done(it);
        }
    }

    void ring(VGpu g) {
        while (!doorbell.offer(g)) {
            Thread.onSpinWait(); // cannot happen with one doorbell per VGpu, but never lose one
        }
        engine.wake(); // a real engine may be parked in idleUntil on the scheduler's thread
    }

    /** Runs the engine until its clock reaches {@code endNanos} (the last slice may end later). */
    public void runUntil(long endNanos) {
        while (engine.now() < endNanos) {
            step(endNanos);
        }
    }

    /** One decision and what follows from it: a slice, an idle turn, or idling until work (at most to {@code end}). */
    public void step(long end) {
        final GpuEngine e = engine;
        long now = e.now();
        drainDoorbell(now);
        for (int i = 0, n = limits.releaseDue(now, released); i < n; i++) {
            if (table[released[i]].backlogged) {
                policy.backlogged(released[i]);
            }
        }
        int v = limits.reservationPick(now);
        boolean byReservation = v >= 0;
        if (!byReservation) {
            v = policy.pick();
        }
        decisions++;
        if (DECISION_EVENT.isEnabled()) {
            DecisionEvent de = new DecisionEvent();
            de.vgpu = v;
            de.engineTime = now;
            de.reservation = byReservation;
            de.backlogged = backloggedCount;
            de.commit();
        }
        if (v == SchedulingPolicy.NONE) {
            e.idleUntil(Math.min(end, limits.nextRelease()));
            noteIdle(now, e.now(), SchedListener.IDLE_NO_WORK, -1);
            return;
        }
        long granted = policy.grant(v);
        if (v == SchedulingPolicy.IDLE_SLOT) {
            idleFor(now, granted, SchedListener.IDLE_EMPTY_SLOT, -1);
            return;
        }
        VGpu g = table[v];
        if (!g.backlogged || limits.throttled(v)) {
            // Non-work-conserving: this vGPU's turn is its own, work or not.
            idleFor(now, granted, SchedListener.IDLE_RESERVED_TURN, v);
            policy.charge(v, granted);
            return;
        }
        if (granted <= 0) {
            policy.charge(v, 0); // the whole turn goes to repaying an overrun
            return;
        }
        if (v != current) {
            long cost = e.switchContext(current, v);
            contextSwitches++;
            switchNanos += cost;
            for (SchedListener l : listeners) {
                l.contextSwitch(current, v, now, cost);
            }
            current = v;
        }
        long start = e.now();
        long ran = 0;
        int items = 0;
        boolean empty = false;
        do {
            WorkItem it = g.queue.poll();
            if (it == null) {
                break; // unreachable: pending > 0 means an item was offered before it was counted
            }
            long t = e.now();
            it.startedNanos = t;
            for (SchedListener l : listeners) {
                l.itemStarted(v, t - it.submittedNanos);
            }
            ran += e.execute(it);
            items++;
            it.completedNanos = e.now();
            it.status = WorkStatus.COMPLETED;
            // A hand-off, not the delivery itself (VgpuCompletion's contract): what a device does to answer its guest
            // (take its queue's lock, which the guest's notification holds; write the ring; interrupt) happens on the
            // device's own thread, so no guest can hold the engine's thread, and nothing here is charged.
            g.completion.done(it);
            if (g.decrementPending() == 0) {
                empty = true;
            }
        } while (!empty && ran < granted);
        long endT = e.now();
        busyNanos += ran;
        policy.charge(v, ran);
        if (limits.charge(v, ran, endT)) {
            policy.drained(v); // throttled: held back until its bucket refills
        }
        if (empty) {
            g.backlogged = false;
            backloggedCount--;
            limits.workDrained(v);
            policy.drained(v);
            if (g.leaving) {
                remove(g);
                returnQueued(g); // anything submitted in a race with the close
            }
        }
        if (SLICE_EVENT.isEnabled()) {
            SliceEvent se = new SliceEvent();
            se.vgpu = v;
            se.engineStart = start;
            se.granted = granted;
            se.ran = ran;
            se.items = items;
            se.commit();
        }
        for (SchedListener l : listeners) {
            l.slice(v, start, endT, granted, items);
            l.charged(v, ran);
        }
    }

    private void idleFor(long now, long length, int reason, int v) {
        long until = now + length;
        while (engine.now() < until) {
            engine.idleUntil(until);
        }
        noteIdle(now, engine.now(), reason, v);
    }

    private void noteIdle(long from, long to, int reason, int v) {
        if (to > from) {
            idleNanos += to - from;
            for (SchedListener l : listeners) {
                l.idle(from, to, reason, v);
            }
        }
    }

    private void drainDoorbell(long now) {
        VGpu g;
        while ((g = doorbell.poll()) != null) {
            if (g.gone) {
                returnQueued(g); // submitted in a race with leave(): hand it back, never drop it
                continue;
            }
            if (!g.backlogged) {
                g.backlogged = true;
                backloggedCount++;
                limits.workArrived(g.id, now);
                if (!limits.throttled(g.id)) {
                    policy.backlogged(g.id);
                }
            }
        }
    }

    /**
     * @return what {@code g} owes under the policy, ns: engine time it ran beyond its share not yet made up (0 when it
     *     is owed or even). On the scheduler's thread.
     */
    public long debtNanos(VGpu g) {
        checkLive(g);
        return policy.debtNanos(g.id);
    }

    /**
     * {@code g} replaces a vGPU that left owing {@code debtNanos} (the same tenant's device reset, which closes its vGPU
     * and opens another) and pays {@code controlNanos} of engine time spent on it outside any turn (closing the old
     * vGPU's context and opening this one's): the debt carries over, so a tenant cannot shed what it owes by resetting,
     * and the control time is charged as if it had run (policy, cap and listeners). On the scheduler's thread.
     */
    public void carryOver(VGpu g, long debtNanos, long controlNanos) {
        checkLive(g);
        int v = g.id;
        // The control time as a debt too (not a turn: a turn would also earn the turn's worth of credit).
        long owed = Math.max(0, debtNanos) + Math.max(0, controlNanos);
        if (owed > 0) {
            policy.owe(v, owed);
        }
        if (controlNanos > 0) {
            if (limits.charge(v, controlNanos, engine.now()) && g.backlogged) {
                policy.drained(v); // throttled: held back until its bucket refills
            }
            for (SchedListener l : listeners) {
                l.charged(v, controlNanos);
            }
        }
    }

    /** @return the vGPU with id {@code id}, or null */
    public VGpu vgpu(int id) {
        return table[id];
    }

    /** @return vGPUs joined */
    public int joinedCount() {
        return joinedCount;
    }

    /** @return vGPUs with work, as the scheduler last learned */
    public int backloggedCount() {
        return backloggedCount;
    }

    /** @return decisions made */
    public long decisions() {
        return decisions;
    }

    /** @return context switches */
    public long contextSwitches() {
        return contextSwitches;
    }

    /** @return engine time spent idle, ns */
    public long idleNanos() {
        return idleNanos;
    }

    /** @return engine time spent running items, ns */
    public long busyNanos() {
        return busyNanos;
    }

    /** @return engine time spent switching contexts, ns */
    public long switchNanos() {
        return switchNanos;
    }
}
