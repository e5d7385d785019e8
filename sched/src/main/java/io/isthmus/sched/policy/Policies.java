package io.isthmus.sched.policy;

import io.isthmus.sched.SchedulerConfig;

/** Makes the policy a {@link SchedulerConfig} names. Stateless. */
public final class Policies {
    private Policies() {
    }

    /** @return a new policy for {@code config}, with room for {@code config.maxVGpus()} vGPUs */
    public static SchedulingPolicy create(SchedulerConfig config) {
        return switch (config.policy()) {
            case BEST_EFFORT, EQUAL_SHARE, FIXED_SHARE -> new RoundRobinPolicy(config);
            case WEIGHTED -> new WeightedFairPolicy(config);
        };
    }
}
