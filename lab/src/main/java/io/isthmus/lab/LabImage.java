package io.isthmus.lab;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The lab's boot files, built once and cached: a Debian kernel and an uncompressed initramfs holding
 * busybox-static (as {@code /bin/busybox} and, after {@code --install}, every applet), the kernel modules the
 * lab loads ({@link #MODULES} and their dependencies, in load order), a jlink'd JDK 25 runtime at {@code /jdk}
 * with the shared libraries it needs, the host programs of {@link #PROGRAMS} at their host paths with their
 * libraries and data (QEMU among them), and the lab's {@code /init}.
 *
 * <p>The jars under test are not in the image: they reach the guest through the 9p share of each run, so the
 * image (about 135 MB, a few seconds to build) is rebuilt only when one of its inputs changes. The cache key
 * hashes every input: the kernel package's name, busybox's bytes, the JDK's release file and module list, the
 * programs' bytes, the init script and {@link #FORMAT}.
 *
 * <p>Immutable once made; safe to share between threads.
 *
 * <p>It also carries a second, small guest for the lab to boot inside its own KVM (the VMM tests' "stock Linux
 * guest"): the same Debian kernel, and an initramfs with busybox, the virtio-mmio, virtio-blk and virtio-rng modules
 * in load order, a disk benchmark tool and an init ({@code io/isthmus/lab/linux/init}) that reports what the guest
 * sees; at {@link #GUEST_LINUX} in the lab guest, and at {@link #linuxKernel()} and {@link #linuxInitramfs()} here.
 *
 * @param kernel    the kernel to pass to QEMU's {@code -kernel}
 * @param initramfs the newc cpio archive to pass to {@code -initrd}
 * @param key       the cache key the files live under
 */
public record LabImage(Path kernel, Path initramfs, String key) {
    /** Where the Linux guest's kernel ({@code vmlinuz}) and initramfs ({@code initramfs.cpio}) are in the lab guest. */
    public static final String GUEST_LINUX = "/linux";
    /** The kernel modules the Linux guest loads, with their dependencies. */
    static final List<String> LINUX_MODULES = List.of("virtio_mmio", "virtio_blk", "virtio_rng");

    /** The Linux guest's kernel on this host (the lab's own). */
    public Path linuxKernel() {
        return kernel;
    }

    /** The Linux guest's initramfs on this host. */
    public Path linuxInitramfs() {
        return initramfs.resolveSibling("linux-initramfs.cpio");
    }

    /** Bump when the image layout changes in a way its inputs do not show. */
    private static final String FORMAT = "isthmus-lab-image-4";

    /**
     * The modules the guest loads: VFIO with the type1 IOMMU backend and vfio-pci; KVM for AMD (QEMU's
     * {@code -cpu max} under TCG emulates SVM with nested paging); virtio-pci and 9p for the shares; virtio_console
     * for an attached command's standard streams ({@link QemuLab#runAttached}).
     */
    public static final List<String> MODULES = List.of(
            "virtio_pci", "9pnet_virtio", "9p", "virtio_console",
            "vfio", "vfio_iommu_type1", "vfio_pci",
            "kvm", "kvm_amd",
            "e1000");

    /**
     * A host program the guest carries at the same path, with the shared libraries {@code ldd} names and the data
     * directories it reads.
     *
     * @param name          the program, found on the host's {@code PATH}
     * @param debianPackage the Debian package that installs it, named when it is missing
     * @param data          directories copied whole (symbolic links kept), e.g. firmware, or single files
     */
    record Program(String name, String debianPackage, List<String> data) {}

    /**
     * The host programs in the guest: QEMU, to run beside this project's VMM with {@code -accel kvm} on the lab's
     * nested KVM (the VMM tests' oracle, the KVM benchmarks' baseline), with its firmware; util-linux's
     * {@code setpriv}, with which a test drops root (busybox's cannot change user); bash and GNU time, with which
     * {@code VmmStartupBenchmark} runs {@code bin/isthmus} and reads its peak RSS there as here; fontconfig (its
     * library, which the JDK loads to find fonts, comes with {@code fc-list}), its configuration and one font
     * family, with which {@code isthmus demo} draws its chart in the lab.
     */
    static final List<Program> PROGRAMS = List.of(
            new Program("qemu-system-x86_64", "qemu-system-x86", List.of("/usr/share/qemu", "/usr/share/seabios")),
            new Program("setpriv", "util-linux", List.of()),
            new Program("bash", "bash", List.of()),
            new Program("time", "time", List.of()),
            new Program("fc-list", "fontconfig", List.of("/etc/fonts", "/usr/share/fontconfig",
                    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")));

    private static final Pattern LDD_PATH = Pattern.compile("(?:=>\\s*)?(/\\S+)\\s+\\(0x");

    /** The image for {@code config}, built on first use. */
    public static LabImage obtain(LabConfig config) {
        try {
            return build(config);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static LabImage build(LabConfig config) throws IOException {
        Path deb = DebianKernel.obtainDeb(config.cacheDir());
        Path busybox = busybox();
        byte[] init = initScript();
        byte[] linuxInit = resource("linux/init");
        byte[] randread = resource("linux/randread.c");
        Path jlink = config.jdkHome().resolve("bin/jlink");
        if (!Files.isExecutable(jlink)) {
            throw new LabException("no jlink in " + config.jdkHome() + ": the lab jlinks the guest's Java runtime"
                    + " from a full JDK 25. Set -Disthmus.lab.jdk=/usr/lib/jvm/temurin-25-jdk-amd64 (or run"
                    + " the build on that JDK, as bin/test does).");
        }
        List<Path> programs = new ArrayList<>();
        for (Program p : PROGRAMS) {
            programs.add(Commands.require(p.name(), p.debianPackage()).toRealPath());
        }
        Cache.Key k = new Cache.Key().add(FORMAT).add(deb.getFileName().toString()).addFile(busybox)
                .addFile(config.jdkHome().resolve("release")).add(config.jdkHome().toString())
                .add(String.join(",", config.jdkModules())).add(String.join(",", MODULES)).add(init)
                .add(linuxInit).add(randread).add(String.join(",", LINUX_MODULES));
        for (Path p : programs) {
            k.add(p.toString()).addFile(p);
        }
        String key = k.hex();
        Path dir = config.cacheDir().resolve("images").resolve(key);
        LabImage image = new LabImage(dir.resolve("vmlinuz"), dir.resolve("initramfs.cpio"), key);
        if (Files.isRegularFile(image.initramfs())) {
            return image;
        }

        System.err.println("isthmus-lab: building the guest image " + key + " in " + dir + " (once per input change)");
        Path tmp = Cache.tempSibling(dir);
        try {
            DebianKernel kernel = DebianKernel.unpack(deb, tmp.resolve("kernel"));
            Path root = Files.createDirectories(tmp.resolve("root"));
            Files.createDirectories(root.resolve("bin"));
            Files.copy(busybox, root.resolve("bin/busybox"));
            Files.write(root.resolve("init"), init);
            root.resolve("init").toFile().setExecutable(true, false);
            root.resolve("bin/busybox").toFile().setExecutable(true, false);

            Path linux = Files.createDirectories(root.resolve(GUEST_LINUX.substring(1)));
            Files.copy(kernel.vmlinuz(), linux.resolve("vmlinuz"));
            buildLinuxInitramfs(kernel, busybox, linuxInit, randread, tmp.resolve("linux-root"),
                    linux.resolve("initramfs.cpio"));
            Files.copy(linux.resolve("initramfs.cpio"), tmp.resolve("linux-initramfs.cpio"));

            Path modDir = Files.createDirectories(root.resolve("lib/modules"));
            List<String> order = new ArrayList<>();
            for (Path ko : kernel.loadOrder(MODULES)) {
                Files.copy(ko, modDir.resolve(ko.getFileName()));
                order.add(ko.getFileName().toString());
            }
            Files.write(modDir.resolve("load-order"), order);

            Path jdk = root.resolve("jdk");
            Commands.run(null, List.of(jlink.toString(), "--add-modules", String.join(",", config.jdkModules()),
                    "--strip-debug", "--no-man-pages", "--no-header-files", "--compress=zip-6",
                    "--generate-cds-archive", "--output", jdk.toString()),
                    "jlink of the guest runtime failed; check that " + config.jdkHome() + " is a full JDK 25.");
            // The guest heap is far below 32 GiB, so the JVM never maps the archive for uncompressed oops.
            Files.deleteIfExists(jdk.resolve("lib/server/classes_nocoops.jsa"));
            List<Path> executables = new ArrayList<>();
            try (Stream<Path> files = Files.walk(jdk)) {
                files.filter(p -> Files.isRegularFile(p)
                                && (p.toString().endsWith(".so") || p.getParent().endsWith("bin")))
                        .forEach(executables::add);
            }
            for (int i = 0; i < PROGRAMS.size(); i++) {
                Path program = programs.get(i);
                Path target = root.resolve(program.toString().substring(1));
                Files.createDirectories(target.getParent());
                Files.copy(program, target);
                executables.add(program);
                for (String data : PROGRAMS.get(i).data()) {
                    copyTree(Path.of(data), root.resolve(data.substring(1)));
                }
            }
            copySharedLibraries(executables, jdk, root);
            // fontconfig's cache (the JDK's font lookup); without a writable one it complains on every start.
            Files.createDirectories(root.resolve("var/cache/fontconfig"));

            Commands.require("cpio", "cpio");
            Commands.run(root, List.of("sh", "-c",
                    "find . -print0 | LC_ALL=C sort -z | cpio -0 -o -H newc -R 0:0 --quiet > ../initramfs.cpio"),
                    "building the initramfs with cpio failed");
            Cache.deleteTree(root);
            Files.copy(kernel.vmlinuz(), tmp.resolve("vmlinuz"));
            Cache.deleteTree(tmp.resolve("kernel"));
            Cache.deleteTree(tmp.resolve("linux-root"));
            Files.deleteIfExists(tmp.resolve("randread.c"));
            Cache.publish(tmp, dir);
        } finally {
            Cache.deleteTree(tmp);
        }
        return image;
    }

    /** Debian's busybox-static: a static busybox is what a bare initramfs can run as PID 1. */
    private static Path busybox() throws IOException {
        Path busybox = Path.of(System.getProperty("isthmus.lab.busybox", "/bin/busybox"));
        String hint = "Install Debian's busybox-static package: sudo apt-get install -y busybox-static"
                + " (bin/test installs it when run as root).";
        if (!Files.isRegularFile(busybox)) {
            throw new LabException(busybox + " not found. " + hint);
        }
        // A dynamic executable names its loader in PT_INTERP, which lies within the first page.
        byte[] head;
        try (InputStream in = Files.newInputStream(busybox)) {
            head = in.readNBytes(4096);
        }
        if (new String(head, StandardCharsets.ISO_8859_1).contains("/ld-linux")) {
            throw new LabException(busybox + " is dynamically linked (Debian's busybox package). " + hint);
        }
        return busybox;
    }

    private static byte[] initScript() throws IOException {
        return resource("init");
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = LabImage.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new LabException("the lab's " + name + " is missing from its jar (io/isthmus/lab/" + name + ")");
            }
            return in.readAllBytes();
        }
    }

    /**
     * The Linux guest's initramfs: busybox as {@code /bin/busybox}, its init, the virtio modules in load order
     * ({@code /lib/modules/load-order}), and {@code /bin/randread} built statically with gcc.
     */
    private static void buildLinuxInitramfs(DebianKernel kernel, Path busybox, byte[] init, byte[] randreadSource,
                                            Path root, Path cpio) throws IOException {
        Files.createDirectories(root.resolve("bin"));
        Files.copy(busybox, root.resolve("bin/busybox"));
        root.resolve("bin/busybox").toFile().setExecutable(true, false);
        Files.write(root.resolve("init"), init);
        root.resolve("init").toFile().setExecutable(true, false);
        Path modDir = Files.createDirectories(root.resolve("lib/modules"));
        List<String> order = new ArrayList<>();
        for (Path ko : kernel.loadOrder(LINUX_MODULES)) {
            Files.copy(ko, modDir.resolve(ko.getFileName()));
            order.add(ko.getFileName().toString());
        }
        Files.write(modDir.resolve("load-order"), order);
        Path src = root.resolveSibling("randread.c");
        Files.write(src, randreadSource);
        Commands.require("gcc", "gcc");
        Commands.run(null, List.of("gcc", "-O2", "-static", "-o", root.resolve("bin/randread").toString(),
                src.toString()), "building the Linux guest's randread tool failed");
        for (String d : List.of("proc", "sys", "dev")) {
            Files.createDirectories(root.resolve(d));
        }
        Commands.run(root, List.of("sh", "-c", "find . -print0 | LC_ALL=C sort -z | cpio -0 -o -H newc -R 0:0"
                + " --quiet > " + cpio), "building the Linux guest's initramfs with cpio failed");
    }

    /** Copies a directory tree, keeping symbolic links as links (QEMU's firmware directory is full of them). */
    private static void copyTree(Path from, Path to) throws IOException {
        if (Files.isRegularFile(from)) {
            Files.createDirectories(to.getParent());
            Files.copy(from, to);
            return;
        }
        if (!Files.isDirectory(from)) {
            throw new LabException(from + " is missing: the lab copies it into the guest image");
        }
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isSymbolicLink(p)) {
                    Files.createDirectories(target.getParent());
                    Files.createSymbolicLink(target, Files.readSymbolicLink(p));
                } else if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }

    /**
     * Copies what {@code ldd} says {@code executables} (the runtime's own, under {@code jdk}, and host programs)
     * load, at the same paths.
     */
    private static void copySharedLibraries(List<Path> executables, Path jdk, Path root) throws IOException {
        List<String> command = new ArrayList<>(List.of("ldd"));
        executables.forEach(p -> command.add(p.toString()));
        String out = Commands.run(null, command, "ldd could not list the guest's shared libraries");
        TreeSet<String> libs = new TreeSet<>();
        Matcher m = LDD_PATH.matcher(out);
        while (m.find()) {
            String lib = m.group(1);
            if (!lib.startsWith(jdk.toString())) {
                libs.add(lib);
            }
        }
        for (String lib : libs) {
            Path target = root.resolve(lib.substring(1));
            Files.createDirectories(target.getParent());
            if (!Files.exists(target)) {
                Files.copy(Path.of(lib), target); // follows symlinks: the guest gets the real file at this name
            }
        }
    }
}
