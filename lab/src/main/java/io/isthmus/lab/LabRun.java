package io.isthmus.lab;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One finished lab run: the guest booted, ran its command and powered off.
 *
 * <p>Immutable; safe to share between threads.
 *
 * @param exitStatus  the exit status of the guest command ({@code run.sh})
 * @param wall        host time from starting QEMU to its exit
 * @param readyAt     guest uptime when the lab was ready (modules loaded, share mounted, edu bound), or null
 * @param exitAt      guest uptime when the command finished, or null
 * @param shareDir    the host directory the guest saw at {@code /mnt/lab}; results are under {@code out/}
 * @param consoleLog  the guest's serial console (kernel messages, the command's output, the lab's markers)
 */
public record LabRun(int exitStatus, Duration wall, Double readyAt, Double exitAt, Path shareDir, Path consoleLog) {
    private static final Pattern UPTIME = Pattern.compile("uptime=([0-9.]+)");

    /** The directory the guest command writes its results to ({@code /mnt/lab/out} in the guest). */
    public Path outDir() {
        return shareDir.resolve("out");
    }

    /** The whole serial console. */
    public String console() {
        return read(consoleLog);
    }

    /** The last {@code lines} lines of the serial console, for failure messages. */
    public String consoleTail(int lines) {
        return tail(consoleLog, lines);
    }

    static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file, StandardCharsets.ISO_8859_1) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String tail(Path file, int lines) {
        List<String> all = read(file).lines().toList();
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    static Double uptimeOf(String console, String marker) {
        for (String line : console.lines().toList()) {
            int at = line.indexOf(marker);
            if (at >= 0) {
                Matcher m = UPTIME.matcher(line.substring(at));
                return m.find() ? Double.valueOf(m.group(1)) : null;
            }
        }
        return null;
    }
}
