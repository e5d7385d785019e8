package io.isthmus.sched.run;

import io.isthmus.sched.ConfigurationException;
import io.isthmus.sched.engine.Kernel;
import io.isthmus.sched.engine.TimeSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One kernel launch a tenant repeats: a kernel of the set and its size (spin µs, saxpy elements, copy bytes, matmul
 * dimension). Immutable.
 *
 * @param kernel the kernel
 * @param size   its size argument (word 0)
 */
public record Launch(Kernel kernel, long size) {
    /** The default mix: one of each, each about 0.1-0.5 ms on one host core. */
    public static final String MIX = "spin:200us,saxpy:256K,copy:1M,matmul:64";

    /** @throws ConfigurationException when the size is out of the kernel's range */
    public Launch {
        long[] w = {size, 0, 1, 2, 3, 0};
        if (!kernel.scalarsValid(w)) {
            throw new ConfigurationException("--kernel " + text(kernel, size) + ": the size is out of range for "
                    + kernel.name().toLowerCase(Locale.ROOT) + " (" + range(kernel) + ")");
        }
    }

    /** @return the bytes each buffer argument of this launch needs */
    public long bufferBytes() {
        long[] w = {size, 0, 1, 2, 3, 0};
        for (int i = 0; i < Kernel.MAX_ARGS; i++) {
            if (kernel.isBuffer(i)) {
                return kernel.bufferBytes(i, w);
            }
        }
        return 0;
    }

    /**
     * Parses a comma-separated list: {@code mix} (the default set), or {@code spin:200us}, {@code saxpy:256K} (elements),
     * {@code copy:1M} (bytes; K, M, G are powers of 1024), {@code matmul:64}.
     *
     * @throws ConfigurationException naming the accepted forms
     */
    public static List<Launch> parseList(String text) {
        List<Launch> out = new ArrayList<>();
        for (String part : text.split(",")) {
            String p = part.trim().toLowerCase(Locale.ROOT);
            if (p.equals("mix")) {
                out.addAll(parseList(MIX));
                continue;
            }
            int colon = p.indexOf(':');
            String name = colon < 0 ? p : p.substring(0, colon);
            Kernel k = switch (name) {
                case "spin" -> Kernel.SPIN;
                case "saxpy" -> Kernel.SAXPY;
                case "copy" -> Kernel.COPY;
                case "matmul" -> Kernel.MATMUL;
                default -> throw new ConfigurationException("--kernel '" + part.trim() + "' is not a kernel; use mix,"
                        + " spin:TIME, saxpy:ELEMENTS, copy:BYTES or matmul:N, e.g. --kernel spin:200us,matmul:64");
            };
            if (colon < 0) {
                throw new ConfigurationException("--kernel '" + part.trim() + "' has no size; write e.g. "
                        + example(k));
            }
            String size = p.substring(colon + 1);
            long v = k == Kernel.SPIN ? TimeSpec.parseNanos(size) / 1_000 : count(size, part.trim(), k);
            out.add(new Launch(k, v));
        }
        if (out.isEmpty()) {
            throw new ConfigurationException("--kernel is empty; use mix or e.g. spin:200us");
        }
        return out;
    }

    private static long count(String s, String part, Kernel k) {
        long unit = 1;
        char last = s.isEmpty() ? ' ' : s.charAt(s.length() - 1);
        if (last == 'k' || last == 'm' || last == 'g') {
            unit = last == 'k' ? 1L << 10 : last == 'm' ? 1L << 20 : 1L << 30;
            s = s.substring(0, s.length() - 1);
        }
        try {
            return Math.multiplyExact(Long.parseLong(s), unit);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new ConfigurationException("--kernel '" + part + "': '" + s + "' is not a whole number; write e.g. "
                    + example(k));
        }
    }

    private static String example(Kernel k) {
        return switch (k) {
            case SPIN -> "spin:200us";
            case SAXPY -> "saxpy:256K";
            case COPY -> "copy:1M";
            case MATMUL -> "matmul:64";
        };
    }

    private static String range(Kernel k) {
        return switch (k) {
            case SPIN -> "0 to 1 s";
            case SAXPY -> "0 to 256M elements";
            case COPY -> "0 to 1T bytes";
            case MATMUL -> "1 to 1024";
        };
    }

    private static String text(Kernel k, long size) {
        return k.name().toLowerCase(Locale.ROOT) + ":" + size;
    }

    @Override
    public String toString() {
        return switch (kernel) {
            case SPIN -> "spin:" + size + "us";
            default -> text(kernel, size);
        };
    }
}
