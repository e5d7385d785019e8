package io.isthmus.vmm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The test guest corpus: C sources under {@code src/test/guests}, built with gcc at test time into
 * {@code target/test-guests}; and helpers that run a guest under real QEMU and under this VMM.
 */
final class TestGuests {
    static final Path SOURCES = Path.of("src/test/guests").toAbsolutePath();
    static final Path OUT = Path.of("target/test-guests").toAbsolutePath();
    static final String QEMU = "qemu-system-x86_64";
    /** The exit device every corpus guest uses. */
    static final List<String> EXIT_DEVICE = List.of("-device", "isa-debug-exit,iobase=0xf4,iosize=4");

    private TestGuests() {}

    /** Builds {@code source} (in src/test/guests) with extra gcc flags into target/test-guests/{@code name}. */
    static synchronized Path build(String source, String name, String linkerScript, String... flags) {
        try {
            Files.createDirectories(OUT);
            Path out = OUT.resolve(name);
            List<String> cmd = new ArrayList<>(List.of("gcc", "-m32", "-march=i686", "-ffreestanding", "-nostdlib",
                    "-fno-pic", "-no-pie", "-static", "-O2", "-fno-stack-protector",
                    "-fno-asynchronous-unwind-tables", "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments",
                    "-Wl,-T," + SOURCES.resolve(linkerScript)));
            cmd.addAll(List.of(flags));
            cmd.addAll(List.of("-o", out.toString(), SOURCES.resolve(source).toString()));
            exec(cmd, null, 60);
            return out;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The boot-protocol guest: bzimage.S assembled and linked flat (file offsets are addresses). */
    static Path bzImage() {
        return bzImage("bzimage");
    }

    /** A bzImage-shaped guest {@code name}.S assembled and linked flat into {@code name}.bin. */
    static synchronized Path bzImage(String name) {
        try {
            Files.createDirectories(OUT);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        Path obj = OUT.resolve(name + ".o"), out = OUT.resolve(name + ".bin");
        exec(List.of("gcc", "-c", "-o", obj.toString(), SOURCES.resolve(name + ".S").toString()), null, 60);
        exec(List.of("gcc", "-nostdlib", "-Wl,-Ttext=0", "-Wl,--oformat=binary", "-Wl,--build-id=none",
                "-o", out.toString(), obj.toString()), null, 60);
        return out;
    }

    /** objcopy -O binary. */
    static Path flat(Path elf, String name) {
        Path out = OUT.resolve(name);
        exec(List.of("objcopy", "-O", "binary", elf.toString(), out.toString()), null, 60);
        return out;
    }

    /** objcopy -O elf64-x86-64: the same guest in a 64-bit ELF container (32-bit code, EM_X86_64 header). */
    static Path elf64(Path elf, String name) {
        Path out = OUT.resolve(name);
        exec(List.of("objcopy", "-O", "elf64-x86-64", elf.toString(), out.toString()), null, 60);
        return out;
    }

    /** The result of a process: stdout bytes, stderr text, exit status. */
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
            Path outFile = Files.createTempFile("vmm-test", ".out");
            Path errFile = Files.createTempFile("vmm-test", ".err");
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
            if (cmd.get(0).equals("gcc") || cmd.get(0).equals("objcopy")) {
                if (r.status() != 0) {
                    throw new AssertionError(cmd + " failed: " + r.stderr());
                }
            }
            return r;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Real QEMU: {@code qemu-system-x86_64 -M microvm -accel kvm -display none} plus {@code args}. */
    static Result qemu(List<String> args) {
        return exec(qemuCommand(args), new byte[0], 60);
    }

    static List<String> qemuCommand(List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(QEMU, "-M", "microvm", "-accel", "kvm", "-display", "none"));
        cmd.addAll(args);
        return cmd;
    }

    /** This VMM as a subprocess (the same JDK and module path as the tests), with the same options as {@link #qemu}. */
    static Result isthmus(List<String> args) {
        List<String> cmd = new ArrayList<>(List.of("-M", "microvm", "-accel", "kvm", "-display", "none"));
        cmd.addAll(args);
        return isthmusRaw(cmd);
    }

    /** This VMM as a subprocess with exactly {@code args}. */
    static Result isthmusRaw(List<String> args) {
        return exec(javaCommand(args), new byte[0], 60);
    }

    static List<String> javaCommand(List<String> args) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String mp = System.getProperty("jdk.module.path");
        List<String> cmd = new ArrayList<>(List.of(java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "--enable-native-access=io.isthmus.bindings", "-p", mp, "-m", "io.isthmus.vmm/io.isthmus.vmm.Main"));
        cmd.addAll(args);
        return cmd;
    }
}
