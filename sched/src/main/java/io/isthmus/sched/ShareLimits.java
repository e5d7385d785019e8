package io.isthmus.sched;

import io.isthmus.sched.policy.SchedulingPolicy;

/**
 * The per-vGPU share limits a {@link GpuScheduler} enforces on top of its policy: caps (maximum shares) as token
 * buckets, and reservations (minimum shares) as credit. It keeps its own state per vGPU id, so a {@link VGpu} carries
 * none of it and the scheduler keeps only the decision loop.
 *
 * <p>A cap is a token bucket filled at cap × elapsed engine time, up to {@link GpuScheduler#CAP_WINDOW_NANOS} × cap; a
 * vGPU whose bucket is empty is throttled (held back) until the time at which it will have refilled. A reservation is
 * credit accrued at reservation × elapsed time while the vGPU has work, up to the same window × reservation, and spent
 * by the time it runs; the reserved vGPU with the most credit takes the next turn ({@link #reservationPick}). Both cost
 * O(vGPUs with a reservation) and O(vGPUs throttled) per decision, nothing when there are none, and allocate nothing.
 *
 * <p>Lifetime: its scheduler's. Thread-safety: none; only the scheduler's thread uses it.
 */
final class ShareLimits {
    private final double[] cap, reservation;
    private final long[] capBudget, capBurst, capLast, releaseAt;
    private final long[] resCredit, resBurst, resLast;
    private final boolean[] throttled, hasWork;
    // Dense lists of the ids with a reservation and of the throttled ids, so a decision visits only those.
    private final int[] reserved, throttledIds;
    private int reservedCount, throttledCount;
    private long nextRelease = Long.MAX_VALUE;
    private double reservedTotal;

    /** @param maxVGpus the number of vGPU ids, 0 to maxVGpus - 1 */
    ShareLimits(int maxVGpus) {
        cap = new double[maxVGpus];
        reservation = new double[maxVGpus];
        capBudget = new long[maxVGpus];
        capBurst = new long[maxVGpus];
        capLast = new long[maxVGpus];
        releaseAt = new long[maxVGpus];
        resCredit = new long[maxVGpus];
        resBurst = new long[maxVGpus];
        resLast = new long[maxVGpus];
        throttled = new boolean[maxVGpus];
        hasWork = new boolean[maxVGpus];
        reserved = new int[maxVGpus];
        throttledIds = new int[maxVGpus];
    }

    /**
     * @param adding   the reservation a vGPU asks for
     * @param removing the reservation it gives up (its current one on a reconfiguration, else 0)
     * @throws ConfigurationException when the reservations would add up past 100 %
     */
    void checkReservation(double adding, double removing) {
        double total = reservedTotal - removing + adding;
        if (total > 1.0 + 1e-9) {
            throw new ConfigurationException(String.format(java.util.Locale.ROOT,
                    "reservations would add up to %.1f %% (%.1f %% asked on top of %.1f %% already reserved); minimum"
                            + " shares must add up to 100 %% or less: lower a reservation",
                    total * 100, adding * 100, (reservedTotal - removing) * 100));
        }
    }

    /** @return vGPU {@code id}'s reservation, 0 when none */
    double reservation(int id) {
        return reservation[id];
    }

    /**
     * vGPU {@code id} joined or was reconfigured with {@code vc}: its cap bucket starts empty and its reservation
     * credit at zero (a throttled vGPU stays throttled until its release time). Check the reservation first.
     */
    void configure(int id, VGpuConfig vc, long now) {
        dropReservation(id);
        cap[id] = vc.cap();
        capBudget[id] = 0;
        capLast[id] = now;
        capBurst[id] = Math.max((long) (vc.cap() * GpuScheduler.CAP_WINDOW_NANOS), 1);
        reservation[id] = vc.reservation();
        resCredit[id] = 0;
        resLast[id] = now;
        resBurst[id] = (long) (vc.reservation() * GpuScheduler.CAP_WINDOW_NANOS);
        if (vc.reservation() > 0) {
            reserved[reservedCount++] = id;
            reservedTotal += vc.reservation();
        }
    }

    /** vGPU {@code id} left: it holds no reservation and is not throttled. */
    void remove(int id) {
        dropReservation(id);
        hasWork[id] = false;
        if (throttled[id]) {
            for (int i = 0; i < throttledCount; i++) {
                if (throttledIds[i] == id) {
                    throttledIds[i] = throttledIds[--throttledCount];
                    break;
                }
            }
            throttled[id] = false;
        }
    }

    private void dropReservation(int id) {
        for (int i = 0; i < reservedCount; i++) {
            if (reserved[i] == id) {
                reserved[i] = reserved[--reservedCount];
                reservedTotal -= reservation[id];
                reservation[id] = 0;
                return;
            }
        }
    }

    /** vGPU {@code id} has work from {@code now} on: its reservation accrues from then, not from before. */
    void workArrived(int id, long now) {
        hasWork[id] = true;
        resLast[id] = now;
    }

    /** vGPU {@code id} has no work left. */
    void workDrained(int id) {
        hasWork[id] = false;
    }

    /** @return whether vGPU {@code id} is held back by its cap */
    boolean throttled(int id) {
        return throttled[id];
    }

    /** @return the engine time at which the first throttled vGPU is due for release, {@link Long#MAX_VALUE} if none */
    long nextRelease() {
        return nextRelease;
    }

    /**
     * Accrues every reservation to {@code now} and picks the reserved vGPU with work, not throttled, with the most
     * credit; idle ones bank nothing (a reservation is a share of the time a vGPU has work).
     *
     * @return its id, or {@link SchedulingPolicy#NONE} when no reservation is owed a turn
     */
    int reservationPick(long now) {
        final int n = reservedCount;
        if (n == 0) {
            return SchedulingPolicy.NONE;
        }
        int best = SchedulingPolicy.NONE;
        long bestCredit = 0;
        for (int i = 0; i < n; i++) {
            int id = reserved[i];
            if (hasWork[id]) {
                long c = Math.min(resBurst[id], resCredit[id] + (long) ((now - resLast[id]) * reservation[id]));
                resCredit[id] = c;
                if (!throttled[id] && c > bestCredit) {
                    best = id;
                    bestCredit = c;
                }
            } else if (resCredit[id] > 0) {
                resCredit[id] = 0;
            }
            resLast[id] = now;
        }
        return best;
    }

    /**
     * vGPU {@code id} ran {@code ranNanos} in a slice that ended at {@code now}: its reservation credit and cap bucket
     * pay for it.
     *
     * @return true when the cap's bucket ran dry and the vGPU is now throttled (the policy must stop offering it)
     */
    boolean charge(int id, long ranNanos, long now) {
        if (reservation[id] > 0) {
            resCredit[id] -= ranNanos;
        }
        double c = cap[id];
        if (c >= 1.0) {
            return false;
        }
        long budget = refill(id, now) - ranNanos;
        capBudget[id] = budget;
        if (budget >= 0) {
            return false;
        }
        throttled[id] = true;
        long at = now + (long) Math.ceil(-budget / c);
        releaseAt[id] = at;
        throttledIds[throttledCount++] = id;
        nextRelease = Math.min(nextRelease, at);
        return true;
    }

    private long refill(int id, long now) {
        long b = Math.min(capBurst[id], capBudget[id] + (long) ((now - capLast[id]) * cap[id]));
        capBudget[id] = b;
        capLast[id] = now;
        return b;
    }

    /**
     * Releases the throttled vGPUs whose buckets have refilled by {@code now}.
     *
     * @param released where their ids go (room for every vGPU id)
     * @return how many were released, 0 when none was due
     */
    int releaseDue(long now, int[] released) {
        if (throttledCount == 0 || now - nextRelease < 0) {
            return 0;
        }
        int count = 0;
        long next = Long.MAX_VALUE;
        for (int i = 0; i < throttledCount; ) {
            int id = throttledIds[i];
            if (now - releaseAt[id] >= 0) {
                throttledIds[i] = throttledIds[--throttledCount];
                throttled[id] = false;
                refill(id, now);
                released[count++] = id;
            } else {
                next = Math.min(next, releaseAt[id]);
                i++;
            }
        }
        nextRelease = next;
        return count;
    }
}
