package io.isthmus.sched.engine;

import io.isthmus.sched.ConfigurationException;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A distribution of work-item durations, drawn from a caller's seeded {@link SplittableRandom} so simulations replay
 * exactly. Immutable and thread-safe (the random source is the caller's).
 */
public sealed interface Durations {
    /** @return a duration in ns, at least 1 */
    long next(SplittableRandom random);

    /** @return the mean duration, in ns */
    long meanNanos();

    /** @return the longest duration it can draw, in ns */
    long maxNanos();

    /** Every item takes {@code nanos}. */
    record Fixed(long nanos) implements Durations {
        /** @throws ConfigurationException when not positive */
        public Fixed {
            positive(nanos);
        }

        @Override
        public long next(SplittableRandom random) {
            return nanos;
        }

        @Override
        public long meanNanos() {
            return nanos;
        }

        @Override
        public long maxNanos() {
            return nanos;
        }
    }

    /** Exponential with the given mean, truncated at 20 means so one item is bounded. */
    record Exponential(long meanNanos) implements Durations {
        /** @throws ConfigurationException when not positive */
        public Exponential {
            positive(meanNanos);
        }

        @Override
        public long next(SplittableRandom random) {
            double x = -Math.log(1.0 - random.nextDouble()) * meanNanos;
            return Math.max(1, Math.min(maxNanos(), (long) x));
        }

        @Override
        public long maxNanos() {
            return 20 * meanNanos;
        }
    }

    /**
     * Heavy-tailed: Pareto with shape {@code alpha} (> 1) scaled to the given mean, truncated at 50 means, so most
     * items are short and a few are very long (as GPU kernels are).
     */
    record Pareto(long meanNanos, double alpha) implements Durations {
        /** @throws ConfigurationException when the mean is not positive or alpha is not above 1 */
        public Pareto {
            positive(meanNanos);
            if (!(alpha > 1.0 && alpha <= 10.0)) {
                throw new ConfigurationException("Pareto shape " + alpha + " is out of range; use above 1 and at most"
                        + " 10 (1.5 is very heavy-tailed, 3 mildly)");
            }
        }

        @Override
        public long next(SplittableRandom random) {
            double xm = meanNanos * (alpha - 1) / alpha;
            double x = xm / Math.pow(1.0 - random.nextDouble(), 1.0 / alpha);
            return Math.max(1, Math.min(maxNanos(), (long) x));
        }

        @Override
        public long maxNanos() {
            return 50 * meanNanos;
        }
    }

    /**
     * Parses {@code fixed:500us}, {@code exp:500us} or {@code pareto:500us:1.5}.
     *
     * @throws ConfigurationException naming the accepted forms
     */
    static Durations parse(String spec) {
        String[] p = spec.trim().toLowerCase(Locale.ROOT).split(":");
        try {
            return switch (p[0]) {
                case "fixed" -> new Fixed(TimeSpec.parseNanos(p[1]));
                case "exp", "exponential" -> new Exponential(TimeSpec.parseNanos(p[1]));
                case "pareto" -> new Pareto(TimeSpec.parseNanos(p[1]), p.length > 2 ? Double.parseDouble(p[2]) : 1.5);
                default -> throw new ConfigurationException("");
            };
        } catch (ArrayIndexOutOfBoundsException | NumberFormatException | ConfigurationException e) {
            String why = e instanceof ConfigurationException c && !c.getMessage().isEmpty() ? c.getMessage() + "; " : "";
            throw new ConfigurationException(why + "work-item durations '" + spec + "' not understood; use fixed:MEAN,"
                    + " exp:MEAN or pareto:MEAN[:SHAPE], e.g. exp:500us");
        }
    }

    private static void positive(long nanos) {
        if (nanos <= 0) {
            throw new ConfigurationException("a work-item duration must be positive, got " + nanos + " ns");
        }
    }
}
