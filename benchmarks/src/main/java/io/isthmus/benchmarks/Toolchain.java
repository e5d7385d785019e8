package io.isthmus.benchmarks;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Builds benchmark baselines and guests with the system's gcc and ld at benchmark time, from sources packaged
 * in the benchmarks jar, into a temporary directory that is deleted when the JVM exits.
 *
 * <p>Not thread-safe; used from {@code @Setup}.
 */
final class Toolchain {
    private final Path dir;

    Toolchain() throws IOException {
        dir = Files.createTempDirectory("isthmus-bench");
        dir.toFile().deleteOnExit();
    }

    /** Copies the packaged resource {@code name} into the work directory. */
    Path extract(String name) throws IOException {
        Path out = dir.resolve(Path.of(name).getFileName());
        try (InputStream in = Toolchain.class.getResourceAsStream("/" + name)) {
            if (in == null) {
                throw new IOException("resource " + name + " is missing from the benchmarks jar");
            }
            Files.write(out, in.readAllBytes());
        }
        out.toFile().deleteOnExit();
        return out;
    }

    /** Compiles C resource {@code name} with gcc -O2 into an executable; returns its path. */
    Path compileC(String name) throws IOException {
        Path src = extract(name);
        Path exe = dir.resolve(src.getFileName().toString().replace(".c", ""));
        run("gcc", "-O2", "-Wall", "-o", exe.toString(), src.toString());
        exe.toFile().deleteOnExit();
        return exe;
    }

    /** Assembles guest resource {@code name} (.S) and links it flat at {@code origin}; returns the bytes. */
    byte[] assembleGuest(String name, long origin) throws IOException {
        Path src = extract(name);
        String base = src.getFileName().toString().replace(".S", "");
        Path obj = dir.resolve(base + ".o"), bin = dir.resolve(base + ".bin");
        run("gcc", "-c", "-o", obj.toString(), src.toString());
        run("ld", "-Ttext=0x" + Long.toHexString(origin), "--oformat", "binary", "-e", "0", "-o", bin.toString(),
                obj.toString());
        obj.toFile().deleteOnExit();
        bin.toFile().deleteOnExit();
        return Files.readAllBytes(bin);
    }

    /** The path the last {@link #assembleGuest} of {@code name} wrote. */
    Path guestBinary(String name) {
        return dir.resolve(Path.of(name).getFileName().toString().replace(".S", ".bin"));
    }

    private static void run(String... command) throws IOException {
        Process p = new ProcessBuilder(new ArrayList<>(List.of(command))).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException(String.join(" ", command) + " failed (is gcc installed?):\n" + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }
}
