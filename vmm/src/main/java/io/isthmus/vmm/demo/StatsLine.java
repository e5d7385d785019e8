package io.isthmus.vmm.demo;

import io.isthmus.vmm.vgpu.VgpuStats;

/**
 * One {@code vgpu: stats ...} line of the guest driver's TSC-timed loop ({@code stats=K}; see {@code vgpu.c}): the
 * guest's totals so far, in TSC cycles, with when the host received the line and what the device's
 * {@link VgpuStats} remembers of the requests the line names. Immutable.
 *
 * @param arrivedNanos when its newline reached the host, {@link System#nanoTime()}
 * @param completed    requests the guest had seen complete
 * @param posted       requests of the loop it had made available
 * @param kickTsc      the guest's TSC just before the kick that made the {@code posted}-th available
 * @param tsc          the guest's TSC just before it printed the line
 * @param kicked       cycles in the kicks (the notify register's VM exit, there and back)
 * @param waited       cycles from a kick's return until the used ring showed a completion
 * @param turn         cycles from seeing a completion to the next kick (reading it, building the next request)
 * @param print        cycles printing the earlier lines
 * @param kick         the device's completion of the loop's {@code posted}-th request (when it took it off the ring,
 *                     within that kick's VM exit), or null where unknown
 * @param seen         the device's completion of the loop's {@code completed}-th request (its totals up to it), or
 *                     null where unknown
 */
public record StatsLine(long arrivedNanos, long completed, long posted, long kickTsc, long tsc, long kicked,
                        long waited, long turn, long print, VgpuStats.Completion kick, VgpuStats.Completion seen) {
    /** How every such line begins. */
    public static final String PREFIX = "vgpu: stats ";
    private static final String[] KEYS = {"n", "posted", "kick", "tsc", "notify", "wait", "turn", "print"};

    /** @return field {@code key} of a stats line ({@code n} or {@code posted}), or -1 when it has none */
    public static long field(String line, String key) {
        int i = line.startsWith(PREFIX) ? line.indexOf(" " + key + "=") : -1;
        if (i < 0) {
            return -1;
        }
        int from = i + key.length() + 2, end = line.indexOf(' ', from);
        try {
            return Long.parseLong(line.substring(from, end < 0 ? line.length() : end));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /**
     * Parses a line the guest printed (without its line end), or returns null when it is not a stats line.
     *
     * @throws IllegalArgumentException when it begins as one but is malformed (a guest driver of another version)
     */
    public static StatsLine parse(String line, long arrivedNanos, VgpuStats.Completion kick,
                                  VgpuStats.Completion seen) {
        if (!line.startsWith(PREFIX)) {
            return null;
        }
        String[] words = line.substring(PREFIX.length()).strip().split(" ");
        if (words.length != KEYS.length) {
            throw new IllegalArgumentException("the guest's stats line has " + words.length + " fields, not "
                    + KEYS.length + ": " + line);
        }
        long[] v = new long[KEYS.length];
        for (int i = 0; i < KEYS.length; i++) {
            String prefix = KEYS[i] + "=";
            if (!words[i].startsWith(prefix)) {
                throw new IllegalArgumentException("the guest's stats line has '" + words[i] + "' where " + prefix
                        + "... belongs: " + line);
            }
            try {
                v[i] = Long.parseUnsignedLong(words[i].substring(prefix.length()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("the guest's stats line has a bad number in '" + words[i] + "': "
                        + line, e);
            }
        }
        return new StatsLine(arrivedNanos, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], kick, seen);
    }

    /** @return the cycles the guest accounted for since it began (they equal the TSC's advance since then) */
    public long accounted() {
        return kicked + waited + turn + print;
    }
}
