package io.isthmus.sched.run;

import io.isthmus.sched.Policy;
import io.isthmus.sched.SchedulerConfig;
import io.isthmus.sched.VGpuConfig;
import java.util.List;

/**
 * The share of the engine each backlogged vGPU should get: by weight under the weighted policy, with caps taken
 * out first and what they leave spread over the others by weight (water-filling); 1/n under best effort and equal
 * share; 1/maxVGpus under fixed share. Stateless.
 */
public final class Targets {
    private Targets() {
    }

    /** @return each vGPU's target share, 0 to 1, all of them backlogged */
    public static double[] of(SchedulerConfig sc, List<VGpuConfig> vgpus) {
        int n = vgpus.size();
        double[] t = new double[n];
        switch (sc.policy()) {
            case FIXED_SHARE -> {
                for (int i = 0; i < n; i++) {
                    t[i] = Math.min(vgpus.get(i).cap(), 1.0 / sc.maxVGpus());
                }
                return t;
            }
            case BEST_EFFORT, EQUAL_SHARE -> {
                // Equal weights, then caps as below.
            }
            case WEIGHTED -> {
            }
        }
        boolean[] fixed = new boolean[n];
        double left = 1.0;
        for (int round = 0; round < n; round++) {
            double weights = 0;
            for (int i = 0; i < n; i++) {
                weights += fixed[i] ? 0 : weight(sc.policy(), vgpus.get(i));
            }
            boolean changed = false;
            for (int i = 0; i < n; i++) {
                if (!fixed[i]) {
                    t[i] = left * weight(sc.policy(), vgpus.get(i)) / weights;
                    if (t[i] > vgpus.get(i).cap()) {
                        t[i] = vgpus.get(i).cap();
                        fixed[i] = true;
                        left -= t[i];
                        changed = true;
                    }
                }
            }
            if (!changed) {
                break;
            }
        }
        return t;
    }

    private static double weight(Policy p, VGpuConfig c) {
        return p == Policy.WEIGHTED ? c.weight() : 1;
    }
}
