package io.isthmus.benchmarks;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Builds the benchmarks' C baselines and guests with the system's gcc and ld, from sources packaged in the
 * benchmarks jar, into a temporary directory deleted when the JVM exits; or, where there is no gcc (the lab
 * guest), takes them prebuilt from the directory named by the system property {@value #PREBUILT}, which
 * {@code java -cp benchmarks.jar io.isthmus.benchmarks.Toolchain DIR} fills on a machine that has gcc (every
 * artifact every benchmark asks for, with the same commands, C statically linked).
 *
 * <p>Not thread-safe; used from {@code @Setup}.
 */
final class Toolchain {
    /** The system property naming a directory of prebuilt artifacts. */
    static final String PREBUILT = "isthmus.bench.toolchain";

    /** C baselines the benchmarks run, by resource name. */
    static final List<String> C_PROGRAMS = List.of("kvm/kvm_exit_baseline.c", "vfio/vfio_baseline.c");
    /** Flat guests (resource, origin) the benchmarks load. */
    static final List<String> FLAT_GUESTS = List.of("kvm/pio_loop.S", "kvm/mmio_loop.S");
    /** Where KvmExitBenchmark loads its guests. */
    static final long KVM_GUEST_ORIGIN = 0x1000;
    /** Multiboot ELF guests the benchmarks boot, by resource name. */
    static final List<String> MULTIBOOT_GUESTS = List.of("vmm/startup_guest.S");

    private final Path dir;
    private final boolean prebuilt;

    Toolchain() throws IOException {
        String given = System.getProperty(PREBUILT);
        prebuilt = given != null && !given.isBlank();
        if (prebuilt) {
            dir = Path.of(given);
        } else {
            dir = Files.createTempDirectory("isthmus-bench");
            dir.toFile().deleteOnExit();
        }
    }

    private Toolchain(Path dir) {
        this.dir = dir;
        this.prebuilt = false;
    }

    /** Fills {@code args[0]} with every artifact the benchmarks use, for a machine without gcc. */
    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: java -cp benchmarks.jar io.isthmus.benchmarks.Toolchain OUTPUT-DIR");
            System.exit(2);
        }
        Toolchain t = new Toolchain(Files.createDirectories(Path.of(args[0])));
        for (String c : C_PROGRAMS) {
            t.compileC(c);
        }
        for (String g : FLAT_GUESTS) {
            t.assembleGuest(g, KVM_GUEST_ORIGIN);
        }
        for (String g : MULTIBOOT_GUESTS) {
            t.multibootGuest(g);
        }
    }

    /** Compiles C resource {@code name} with gcc -O2 (statically) into an executable; returns its path. */
    Path compileC(String name) throws IOException {
        Path exe = dir.resolve(base(name, ".c"));
        if (prebuilt) {
            return existing(exe, name);
        }
        Path src = extract(name);
        run("gcc", "-O2", "-Wall", "-static", "-o", exe.toString(), src.toString());
        exe.toFile().deleteOnExit();
        return exe;
    }

    /** Assembles guest resource {@code name} (.S) and links it flat at {@code origin}; returns the bytes. */
    byte[] assembleGuest(String name, long origin) throws IOException {
        Path bin = guestBinary(name, origin);
        if (prebuilt) {
            return Files.readAllBytes(existing(bin, name + " at 0x" + Long.toHexString(origin)));
        }
        Path src = extract(name);
        Path obj = dir.resolve(base(name, ".S") + ".o");
        run("gcc", "-c", "-o", obj.toString(), src.toString());
        run("ld", "-Ttext=0x" + Long.toHexString(origin), "--oformat", "binary", "-e", "0", "-o", bin.toString(),
                obj.toString());
        obj.toFile().deleteOnExit();
        bin.toFile().deleteOnExit();
        return Files.readAllBytes(bin);
    }

    /** The file {@link #assembleGuest} of {@code name} at {@code origin} reads or writes. */
    Path guestBinary(String name, long origin) {
        return dir.resolve(base(name, ".S") + "-" + Long.toHexString(origin) + ".bin");
    }

    /** Assembles resource {@code name} (.S) into a 32-bit Multiboot ELF loaded at 1 MiB; returns its path. */
    Path multibootGuest(String name) throws IOException {
        Path elf = dir.resolve(base(name, ".S") + ".elf");
        if (prebuilt) {
            return existing(elf, name);
        }
        Path src = extract(name);
        run("gcc", "-m32", "-nostdlib", "-static", "-no-pie", "-Wl,-Ttext=0x100000", "-Wl,--build-id=none", "-o",
                elf.toString(), src.toString());
        elf.toFile().deleteOnExit();
        return elf;
    }

    private static String base(String name, String suffix) {
        String file = Path.of(name).getFileName().toString();
        return file.endsWith(suffix) ? file.substring(0, file.length() - suffix.length()) : file;
    }

    private Path existing(Path file, String what) {
        if (!Files.isRegularFile(file)) {
            throw new UncheckedIOException(new IOException(what + " is not prebuilt in " + dir + " (-D" + PREBUILT
                    + "): make it with java -cp benchmarks.jar io.isthmus.benchmarks.Toolchain " + dir
                    + " on a machine with gcc"));
        }
        return file;
    }

    /** Copies the packaged resource {@code name} into the work directory. */
    private Path extract(String name) throws IOException {
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
