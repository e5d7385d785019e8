package io.isthmus.sched;

/** How quickly a vGPU wants the engine after its work arrives. Immutable. */
public enum LatencyClass {
    /** Throughput work: joins the back of the round when it wakes; full slices. */
    NORMAL,
    /**
     * Interactive work (a desktop, a game): goes to the front of the round when it wakes (best effort) or asks for
     * quarter-length requests so its virtual deadline comes sooner (weighted, as EEVDF's latency-nice does). Its share is
     * unchanged: it gets its time sooner, in smaller pieces.
     */
    INTERACTIVE
}
