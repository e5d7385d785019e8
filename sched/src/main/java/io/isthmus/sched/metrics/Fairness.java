package io.isthmus.sched.metrics;

/** Fairness measures. Stateless. */
public final class Fairness {
    private Fairness() {
    }

    /**
     * Jain's fairness index, (Σx)² / (n·Σx²): 1 when all {@code x} are equal, 1/n when one gets everything. Pass each
     * vGPU's service divided by its weight to measure weighted fairness.
     *
     * @return the index, or 1 for no values or all zeros
     */
    public static double jain(double[] x) {
        double sum = 0, sq = 0;
        for (double v : x) {
            sum += v;
            sq += v * v;
        }
        return sq == 0 ? 1.0 : sum * sum / (x.length * sq);
    }
}
