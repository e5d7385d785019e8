package io.isthmus.sched;

/**
 * How one engine is scheduled. Immutable; validated when made.
 *
 * <p>The slice is either fixed ({@code sliceNanos} 1 to 30 ms) or {@link #ADAPTIVE}: then it follows a scheduling
 * frequency as NVIDIA's vGPU scheduler does, {@code frequencyHz} (63 to 960 Hz) or, when that is 0, 480 Hz (about 2 ms)
 * with up to 8 vGPUs and 960 Hz (about 1 ms) above. Under the round-robin policies a slice that overruns (a work item
 * runs past the slice's end, since items are not preempted) is repaid by shortening the vGPU's next slices by
 * overrun / {@code averagingFactor} each (1 to 60; NVIDIA's default is 33).
 *
 * @param policy          the policy
 * @param sliceNanos      the slice in nanoseconds (1 to 30 ms), or {@link #ADAPTIVE}
 * @param frequencyHz     the scheduling frequency for adaptive slices, 63 to 960 Hz, or 0 for the default
 * @param averagingFactor how many slices an overrun is spread over, 1 to 60
 * @param maxVGpus        the most vGPUs this engine takes; under {@link Policy#FIXED_SHARE} each gets 1/maxVGpus
 */
public record SchedulerConfig(Policy policy, long sliceNanos, int frequencyHz, int averagingFactor, int maxVGpus) {
    /** {@code sliceNanos} value: derive the slice from the scheduling frequency. */
    public static final long ADAPTIVE = -1;
    /** Shortest and longest fixed slice. */
    public static final long MIN_SLICE_NANOS = 1_000_000, MAX_SLICE_NANOS = 30_000_000;
    /** NVIDIA's default averaging factor. */
    public static final int DEFAULT_AVERAGING_FACTOR = 33;
    /** The most vGPUs one engine takes. */
    public static final int MAX_VGPUS = 1 << 20;

    /** @throws ConfigurationException naming the field, its value and its range */
    public SchedulerConfig {
        if (policy == null) {
            throw new ConfigurationException("no scheduling policy given; use one of best-effort, equal-share,"
                    + " fixed-share, weighted");
        }
        if (sliceNanos != ADAPTIVE && (sliceNanos < MIN_SLICE_NANOS || sliceNanos > MAX_SLICE_NANOS)) {
            throw new ConfigurationException("time slice " + sliceNanos + " ns is out of range; a fixed slice must be"
                    + " 1 ms to 30 ms (or 'adaptive', which follows the scheduling frequency)");
        }
        if (frequencyHz != 0 && (frequencyHz < 63 || frequencyHz > 960)) {
            throw new ConfigurationException("scheduling frequency " + frequencyHz + " Hz is out of range; use 63 to"
                    + " 960 Hz (or leave it out: 480 Hz up to 8 vGPUs, 960 Hz above)");
        }
        if (frequencyHz != 0 && sliceNanos != ADAPTIVE) {
            throw new ConfigurationException("both a fixed slice and a scheduling frequency were given; a frequency"
                    + " only applies to adaptive slices: drop one of them");
        }
        if (averagingFactor < 1 || averagingFactor > 60) {
            throw new ConfigurationException("averaging factor " + averagingFactor + " is out of range; use 1 to 60"
                    + " (default " + DEFAULT_AVERAGING_FACTOR + ")");
        }
        if (maxVGpus < 1 || maxVGpus > MAX_VGPUS) {
            throw new ConfigurationException("maximum vGPUs " + maxVGpus + " is out of range; use 1 to " + MAX_VGPUS);
        }
    }

    /** @return {@code policy} with adaptive slices, the default averaging factor and room for {@code maxVGpus} */
    public static SchedulerConfig of(Policy policy, int maxVGpus) {
        return new SchedulerConfig(policy, ADAPTIVE, 0, DEFAULT_AVERAGING_FACTOR, maxVGpus);
    }

    /** @return this configuration with a fixed slice */
    public SchedulerConfig withSlice(long nanos) {
        return new SchedulerConfig(policy, nanos, nanos == ADAPTIVE ? frequencyHz : 0, averagingFactor, maxVGpus);
    }

    /** @return this configuration with adaptive slices at {@code hz} (0: the default) */
    public SchedulerConfig withFrequency(int hz) {
        return new SchedulerConfig(policy, ADAPTIVE, hz, averagingFactor, maxVGpus);
    }

    /** @return this configuration with another averaging factor */
    public SchedulerConfig withAveragingFactor(int factor) {
        return new SchedulerConfig(policy, sliceNanos, frequencyHz, factor, maxVGpus);
    }

    /**
     * The slice for {@code vgpus} vGPUs sharing the engine.
     *
     * @param vgpus how many vGPUs take turns (joined ones, or maxVGpus under fixed share)
     * @return the slice in nanoseconds
     */
    public long sliceFor(int vgpus) {
        if (sliceNanos != ADAPTIVE) {
            return sliceNanos;
        }
        int hz = frequencyHz != 0 ? frequencyHz : vgpus <= 8 ? 480 : 960;
        return 1_000_000_000L / hz;
    }
}
