package io.isthmus.vfio.lab;

import io.isthmus.sys.Libc;
import io.isthmus.vfio.VfioContainer;
import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Runs a class's {@code main} in a new JVM, as a user would run a program: the running JDK's {@code java}, the jars of
 * Isthmus and of the class on the class path, native access enabled, and the POSIX locale the lab's console has
 * ({@code LC_ALL=C}, no {@code LANG}), so {@code System.out}/{@code System.err} encode as US-ASCII and anything
 * else prints as {@code ?}.
 */
final class GuestJava {
    /**
     * What the program printed and its exit status. The bytes are decoded as ISO-8859-1, which maps each byte to
     * one char, so a byte that is not ASCII shows up as a char above 0x7f instead of failing the decoding.
     */
    record Result(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    private GuestJava() {}

    static Result run(Class<?> main, String... args) throws IOException, InterruptedException {
        Set<String> cp = new LinkedHashSet<>();
        for (Class<?> c : List.of(main, VfioContainer.class, Libc.class)) {
            cp.add(location(c));
        }
        // The CLI's and logging jars, when the classes are on this class path (the CLI needs picocli).
        for (String name : List.of("picocli.CommandLine", "org.slf4j.LoggerFactory")) {
            try {
                cp.add(location(Class.forName(name, false, GuestJava.class.getClassLoader())));
            } catch (ClassNotFoundException absent) {
                // not used by the program under test
            }
        }
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "--enable-native-access=ALL-UNNAMED",
                "-cp", String.join(File.pathSeparator, cp), main.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.equals("LANG") || k.startsWith("LC_"));
        env.put("LC_ALL", "C");
        Path out = Files.createTempFile("guest-java", ".out"), err = Files.createTempFile("guest-java", ".err");
        try {
            Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(180, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
                throw new AssertionError("java " + main.getName() + " did not finish within 180 s; stderr:\n"
                        + read(err));
            }
            return new Result(p.exitValue(), read(out), read(err));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    private static String read(Path file) throws IOException {
        return new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
    }

    private static String location(Class<?> c) {
        try {
            return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (URISyntaxException e) {
            throw new IllegalStateException("no class path entry for " + c.getName(), e);
        }
    }
}
