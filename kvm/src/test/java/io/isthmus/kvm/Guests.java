package io.isthmus.kvm;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Test guests: assembly sources under {@code src/test/resources/guests}, assembled at test time with gcc and
 * linked flat with ld at the address they run from. Results are cached per JVM.
 */
public final class Guests {
    private static final Map<String, byte[]> CACHE = new ConcurrentHashMap<>();
    private static Path dir;

    private Guests() {}

    private static synchronized Path dir() throws IOException {
        if (dir == null) {
            dir = Files.createTempDirectory("isthmus-guests");
            dir.toFile().deleteOnExit();
        }
        return dir;
    }

    /** The flat binary of guest {@code name} (without .S) linked to run at guest-physical {@code origin}. */
    public static byte[] build(String name, long origin) {
        return CACHE.computeIfAbsent(name + "@" + Long.toHexString(origin), k -> assemble(name, origin));
    }

    private static byte[] assemble(String name, long origin) {
        try (InputStream in = Guests.class.getResourceAsStream("/guests/" + name + ".S")) {
            if (in == null) {
                throw new IllegalArgumentException("no guest source guests/" + name + ".S");
            }
            Path d = dir();
            Path src = d.resolve(name + ".S"), obj = d.resolve(name + ".o"),
                    bin = d.resolve(name + "-" + Long.toHexString(origin) + ".bin");
            for (Path p : List.of(src, obj, bin)) {
                p.toFile().deleteOnExit(); // registered after the directory, so deleted before it
            }
            Files.write(src, in.readAllBytes());
            run(List.of("gcc", "-c", "-o", obj.toString(), src.toString()));
            run(List.of("ld", "-Ttext=0x" + Long.toHexString(origin), "--oformat", "binary", "-e", "0", "-o",
                    bin.toString(), obj.toString()));
            return Files.readAllBytes(bin);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void run(List<String> command) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " failed:\n" + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
