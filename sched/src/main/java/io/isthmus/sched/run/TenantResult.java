package io.isthmus.sched.run;

/**
 * What one tenant achieved over the measured period of a {@link TenantRun}. Immutable.
 *
 * @param index        its index in the run
 * @param weight       its weight
 * @param cap          its cap, 0 to 1 (1: none)
 * @param target       the share it should get, 0 to 1
 * @param share        the share of all tenants' engine time it got, 0 to 1
 * @param engineNanos  engine time its launches took (what the scheduler charged), ns
 * @param gpuNanos     device time of its launches, ns
 * @param launches     launches completed
 * @param p50Nanos     median completion latency (submission to the tenant seeing it), ns
 * @param p99Nanos     99th percentile of it, ns
 * @param queueNanos   mean submission-to-start time per launch (queueing, the scheduler's wake-up and decision), ns
 * @param engineOverheadNanos mean start-to-completion time beyond the device time (validation, dispatch, timing), ns
 * @param deliverNanos mean completion-to-seen time (the hand-over to the tenant's thread), ns
 * @param errors       requests that failed
 * @param firstError   the first failure, or null
 */
public record TenantResult(int index, int weight, double cap, double target, double share, long engineNanos,
                           long gpuNanos, long launches, long p50Nanos, long p99Nanos, double queueNanos,
                           double engineOverheadNanos, double deliverNanos, long errors, String firstError) {
}
