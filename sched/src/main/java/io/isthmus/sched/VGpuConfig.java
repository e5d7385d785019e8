package io.isthmus.sched;

/**
 * One vGPU's scheduling parameters. Immutable; validated when made.
 *
 * @param weight      relative share under {@link Policy#WEIGHTED}, 1 to {@link #MAX_WEIGHT} (GVT-g allows 1 to 16)
 * @param cap         maximum fraction of the engine's time, in (0, 1]; 1 means uncapped
 * @param reservation minimum fraction of the engine's time while the vGPU has work, in [0, 1); 0 means none
 * @param latency     its latency class
 */
public record VGpuConfig(int weight, double cap, double reservation, LatencyClass latency) {
    /** The largest weight; weighted decisions scan one bucket per distinct weight, so the range is bounded. */
    public static final int MAX_WEIGHT = 256;

    /** Weight 1, uncapped, no reservation, normal latency. */
    public static final VGpuConfig DEFAULT = new VGpuConfig(1, 1.0, 0.0, LatencyClass.NORMAL);

    /** @throws ConfigurationException when a field is out of range, naming the field and its range */
    public VGpuConfig {
        if (weight <= 0 || weight > MAX_WEIGHT) {
            throw new ConfigurationException("weight " + weight + " is out of range; weights must be 1 to "
                    + MAX_WEIGHT + " (a vGPU with weight 2 gets twice the time of one with weight 1)");
        }
        if (!(cap > 0.0 && cap <= 1.0)) {
            throw new ConfigurationException("cap " + pct(cap) + " is out of range; a cap (maximum share) must be"
                    + " above 0 % and at most 100 %");
        }
        if (!(reservation >= 0.0 && reservation < 1.0)) {
            throw new ConfigurationException("reservation " + pct(reservation) + " is out of range; a reservation"
                    + " (minimum share) must be 0 % or more and below 100 %");
        }
        if (reservation > cap) {
            throw new ConfigurationException("reservation " + pct(reservation) + " is above cap " + pct(cap)
                    + "; a vGPU cannot be promised more than it is allowed: lower the reservation or raise the cap");
        }
        if (latency == null) {
            throw new ConfigurationException("latency class is missing; use NORMAL or INTERACTIVE");
        }
    }

    /** @return a normal-latency, uncapped, unreserved vGPU of weight {@code weight} */
    public static VGpuConfig weighted(int weight) {
        return new VGpuConfig(weight, 1.0, 0.0, LatencyClass.NORMAL);
    }

    /** @return this configuration with another weight */
    public VGpuConfig withWeight(int w) {
        return new VGpuConfig(w, cap, reservation, latency);
    }

    /** @return this configuration with another cap */
    public VGpuConfig withCap(double c) {
        return new VGpuConfig(weight, c, reservation, latency);
    }

    /** @return this configuration with another reservation */
    public VGpuConfig withReservation(double r) {
        return new VGpuConfig(weight, cap, r, latency);
    }

    /** @return this configuration with another latency class */
    public VGpuConfig withLatency(LatencyClass l) {
        return new VGpuConfig(weight, cap, reservation, l);
    }

    static String pct(double f) {
        return String.format(java.util.Locale.ROOT, "%.4g %%", f * 100);
    }
}
