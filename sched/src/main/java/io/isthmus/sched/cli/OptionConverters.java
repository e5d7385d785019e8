package io.isthmus.sched.cli;

import io.isthmus.sched.ConfigurationException;
import io.isthmus.sched.Policy;
import io.isthmus.sched.SchedulerConfig;
import io.isthmus.sched.engine.Durations;
import io.isthmus.sched.engine.TimeSpec;
import io.isthmus.sched.sim.VGpuSpec;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * picocli type converters for {@code isthmus sched simulate}'s option values, so picocli binds typed fields and reports
 * a bad value as one line naming the option. Each converter is stateless and thread-safe; picocli makes them.
 */
final class OptionConverters {
    private OptionConverters() {
    }

    /** A duration with a unit, {@code 250ns} to {@code 1h} ({@link TimeSpec}), as nanoseconds. */
    static final class Time implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            try {
                return TimeSpec.parseNanos(value);
            } catch (ConfigurationException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    /** {@code adaptive} ({@link SchedulerConfig#ADAPTIVE}) or a positive duration; the range is the config's to check. */
    static final class Slice implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            if (value.trim().equalsIgnoreCase("adaptive")) {
                return SchedulerConfig.ADAPTIVE;
            }
            long nanos = new Time().convert(value);
            if (nanos <= 0) {
                throw new TypeConversionException("'" + value + "' is zero or negative; a slice must be 1ms to 30ms,"
                        + " or 'adaptive'");
            }
            return nanos;
        }
    }

    /** A policy name as {@link Policy#parse} takes it, e.g. {@code best-effort}. */
    static final class PolicyName implements ITypeConverter<Policy> {
        @Override
        public Policy convert(String value) {
            try {
                return Policy.parse(value);
            } catch (ConfigurationException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    /** A share of the engine: a percentage ({@code 30%}) or a fraction ({@code 0.3}); the range is checked later. */
    static final class Share implements ITypeConverter<Double> {
        @Override
        public Double convert(String value) {
            String v = value.trim();
            boolean percent = v.endsWith("%");
            try {
                double f = Double.parseDouble(percent ? v.substring(0, v.length() - 1) : v);
                if (Double.isFinite(f)) {
                    return percent ? f / 100 : f;
                }
            } catch (NumberFormatException e) {
                // fall through to the message
            }
            throw new TypeConversionException("'" + value + "' is not a share; write a percentage or a fraction, e.g."
                    + " 30% or 0.3");
        }
    }

    /** A work-item duration distribution, {@code fixed:T}, {@code exp:MEAN} or {@code pareto:MEAN[:SHAPE]}. */
    static final class Work implements ITypeConverter<Durations> {
        @Override
        public Durations convert(String value) {
            try {
                return Durations.parse(value);
            } catch (ConfigurationException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    /** {@code backlogged} ({@link VGpuSpec#BACKLOGGED}) or an offered load above 0 and at most 10 engines' worth. */
    static final class Load implements ITypeConverter<Double> {
        @Override
        public Double convert(String value) {
            if (value.trim().equalsIgnoreCase("backlogged")) {
                return VGpuSpec.BACKLOGGED;
            }
            try {
                double l = Double.parseDouble(value);
                if (l > 0 && l <= 10) {
                    return l;
                }
            } catch (NumberFormatException e) {
                // fall through to the message
            }
            throw new TypeConversionException("'" + value + "' is not understood; use 'backlogged' or a fraction of the"
                    + " engine above 0, e.g. 0.3");
        }
    }

    /** {@code I@T}: vGPU index {@code I} at time {@code T}, e.g. {@code 3@2s}; the index range is checked later. */
    static final class At implements ITypeConverter<IndexAt> {
        @Override
        public IndexAt convert(String value) {
            String[] kv = value.split("@", -1);
            if (kv.length == 2) {
                try {
                    return new IndexAt(Integer.parseInt(kv[0].trim()), TimeSpec.parseNanos(kv[1]));
                } catch (NumberFormatException | ConfigurationException e) {
                    // fall through to the message
                }
            }
            throw new TypeConversionException("'" + value + "' is not INDEX@TIME, e.g. 3@2s");
        }
    }

    /**
     * A vGPU index and a time, as {@code --arrive} and {@code --leave} take them.
     *
     * @param index the vGPU's index on the command line
     * @param nanos the time, in ns of virtual time
     */
    record IndexAt(int index, long nanos) {
    }
}
