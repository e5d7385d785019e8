package io.isthmus.vmm;

import io.isthmus.vmm.machine.HostStdio;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

/**
 * The test guest corpus and the two VMMs that run it.
 *
 * <p>The guests are C and assembly sources under {@code src/test/guests}, built with gcc by
 * {@code src/test/guests/build.sh} when Maven builds the tests, into the test classes' {@code test-guests/}
 * folder: they travel with the test classes, to the lab guest (no gcc there) as well as to the host's test runs.
 * {@link #guest} gives one as a file.
 *
 * <p>Real QEMU ({@link #qemu}) runs as a process. This VMM runs in this JVM ({@link #isthmus}): the same entry
 * point as the command line's, {@link Main#run}, with its serial output, messages and exit status captured, so a
 * test makes a machine in milliseconds instead of starting a JVM (seconds in the lab's emulated CPU). Tests of
 * what only a process shows (a terminal, the {@code -d} log, which is process-wide) use {@link #isthmusProcess}.
 */
final class TestGuests {
    static final String QEMU = "qemu-system-x86_64";
    /** The exit device every corpus guest uses. */
    static final List<String> EXIT_DEVICE = List.of("-device", "isa-debug-exit,iobase=0xf4,iosize=4");
    /** How long one run of either VMM may take. */
    private static final int TIMEOUT_SECONDS = 120;

    private static final Map<String, Path> GUESTS = new ConcurrentHashMap<>();
    private static Path scratch;

    private TestGuests() {}

    /** The prebuilt guest {@code name} (as build.sh names it, e.g. {@code multiboot.elf}) as a file. */
    static Path guest(String name) {
        return GUESTS.computeIfAbsent(name, TestGuests::materialize);
    }

    private static Path materialize(String name) {
        URL url = TestGuests.class.getResource("/test-guests/" + name);
        if (url == null) {
            throw new IllegalArgumentException("no prebuilt test guest test-guests/" + name + " on the class path:"
                    + " vmm/src/test/guests/build.sh makes the corpus when Maven builds the tests");
        }
        try {
            if (url.getProtocol().equals("file")) {
                return Path.of(url.toURI());
            }
            // In a test jar: copy it out, keeping its name (a guest may print its own -kernel path).
            Path dir = Files.createDirectories(scratch().resolve("test-guests"));
            Path file = dir.resolve(name);
            try (InputStream in = url.openStream()) {
                Files.write(file, in.readAllBytes());
            }
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A directory for the files tests make (modules, broken kernels, sockets, logs); removed when the JVM exits. */
    static synchronized Path scratch() {
        if (scratch == null) {
            try {
                Path dir = Files.createTempDirectory("isthmus-vmm-test");
                Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(dir)));
                scratch = dir;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return scratch;
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // best effort at exit
        }
    }

    /** The result of a run: stdout bytes, stderr text, exit status. */
    record Result(byte[] stdout, String stderr, int status) {
        String out() {
            return new String(stdout, StandardCharsets.ISO_8859_1);
        }
    }

    static Result exec(List<String> cmd, byte[] stdin, int timeoutSeconds) {
        return exec(cmd, stdin, timeoutSeconds, null);
    }

    /** Runs {@code cmd} in directory {@code dir}. */
    static Result execIn(Path dir, List<String> cmd) {
        return exec(cmd, new byte[0], 60, dir);
    }

    static Result exec(List<String> cmd, byte[] stdin, int timeoutSeconds, Path dir) {
        try {
            Path outFile = Files.createTempFile(scratch(), "vmm-test", ".out");
            Path errFile = Files.createTempFile(scratch(), "vmm-test", ".err");
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(outFile.toFile()).redirectError(errFile.toFile());
            if (dir != null) {
                pb.directory(dir.toFile());
            }
            Process p = pb.start();
            if (stdin != null) {
                p.getOutputStream().write(stdin);
            }
            p.getOutputStream().close();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("timed out after " + timeoutSeconds + " s: " + cmd);
            }
            Result r = new Result(Files.readAllBytes(outFile), Files.readString(errFile, StandardCharsets.ISO_8859_1),
                    p.exitValue());
            Files.deleteIfExists(outFile);
            Files.deleteIfExists(errFile);
            return r;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Real QEMU: {@code qemu-system-x86_64 -M microvm -accel kvm -display none} plus {@code args}. */
    static Result qemu(List<String> args) {
        return exec(qemuCommand(args), new byte[0], TIMEOUT_SECONDS);
    }

    static List<String> qemuCommand(List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(QEMU, "-M", "microvm", "-accel", "kvm", "-display", "none"));
        cmd.addAll(args);
        return cmd;
    }

    /** This VMM, in this JVM, with the same options as {@link #qemu}. */
    static Result isthmus(List<String> args) {
        return isthmusRaw(microvm(args));
    }

    private static List<String> microvm(List<String> args) {
        List<String> cmd = new ArrayList<>(List.of("-M", "microvm", "-accel", "kvm", "-display", "none"));
        cmd.addAll(args);
        return cmd;
    }

    /**
     * This VMM, in this JVM, with exactly {@code args}, as the command line runs it: {@code -serial stdio} on an
     * empty stdin (as a process given none reads) and captured stdout; messages captured from stderr.
     */
    static Result isthmusRaw(List<String> args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream pout = new PrintStream(out, true, StandardCharsets.ISO_8859_1);
        PrintStream perr = new PrintStream(err, true, StandardCharsets.ISO_8859_1);
        FutureTask<Integer> vmm = new FutureTask<>(() -> Main.run(args.toArray(String[]::new),
                HostStdio.of(InputStream.nullInputStream(), out), pout, perr));
        Thread.ofPlatform().name("isthmus-vmm").daemon(true).start(vmm);
        try {
            int status = vmm.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            return new Result(out.toByteArray(), err.toString(StandardCharsets.ISO_8859_1), status);
        } catch (TimeoutException e) {
            throw new AssertionError("this VMM did not finish within " + TIMEOUT_SECONDS + " s: " + args
                    + "\nstderr: " + err.toString(StandardCharsets.ISO_8859_1));
        } catch (ExecutionException e) {
            throw new AssertionError("this VMM threw (a bug: Main.run reports errors itself): " + args, e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** This VMM as its own process ({@link #javaCommand}), with the same options as {@link #qemu}. */
    static Result isthmusProcess(List<String> args) {
        return exec(javaCommand(microvm(args)), new byte[0], TIMEOUT_SECONDS);
    }

    /**
     * The command that runs this VMM as a process on this JVM's JDK with exactly {@code args}: on the module path
     * the tests run on (Maven's), or on the class path (the lab guest's JUnit launcher).
     */
    static List<String> javaCommand(List<String> args) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
        String mp = System.getProperty("jdk.module.path");
        if (mp != null && !mp.isBlank()) {
            cmd.addAll(List.of("--enable-native-access=io.isthmus.bindings", "-p", mp, "-m",
                    "io.isthmus.vmm/io.isthmus.vmm.Main"));
        } else {
            cmd.addAll(List.of("--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                    Main.class.getName()));
        }
        cmd.addAll(args);
        return cmd;
    }
}
