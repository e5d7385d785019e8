/**
 * Scheduling policies: the decision of which vGPU gets the engine next and for how long. Each is a single-threaded
 * state machine driven by {@link io.isthmus.sched.GpuScheduler}; decisions are O(1) (round robin) or O(distinct
 * weights) (weighted), allocate nothing, and take ids, not objects. {@link io.isthmus.sched.policy.LinearScanPolicy}
 * is the O(n) baseline the benchmarks compare against.
 */
package io.isthmus.sched.policy;
