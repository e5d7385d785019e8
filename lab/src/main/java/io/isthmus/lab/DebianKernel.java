package io.isthmus.lab;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A Debian kernel package ({@code linux-image-*-amd64}) unpacked for an image build: its {@code vmlinuz}
 * and its modules, which the host never loads.
 *
 * <p>The {@code .deb} is fetched once with {@code apt-get download} (no installation) into
 * {@code <cache>/debs}, and unpacked with {@code dpkg -x} only while an image is built; after the fetch the
 * lab works offline. Immutable once made; safe to share between threads.
 */
final class DebianKernel {
    private static final Pattern DEB = Pattern.compile("linux-image-(\\d[^_]*)-amd64_[^_]+_amd64\\.deb");
    private static final Pattern DEPENDS = Pattern.compile("depends=([^\\x00]*)\\x00");

    private final String debName;
    private final Path vmlinuz;
    private final Map<String, Path> modules;

    private DebianKernel(String debName, Path vmlinuz, Map<String, Path> modules) {
        this.debName = debName;
        this.vmlinuz = vmlinuz;
        this.modules = modules;
    }

    /**
     * The newest kernel package in {@code <cacheDir>/debs}, after fetching the current
     * {@code linux-image-amd64} one there if there is none.
     */
    static Path obtainDeb(Path cacheDir) {
        try {
            Path debs = Files.createDirectories(cacheDir.resolve("debs"));
            Path deb = newestCached(debs);
            return deb != null ? deb : download(debs);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path newestCached(Path debs) throws IOException {
        String override = System.getProperty("isthmus.lab.kernelDeb");
        if (override != null) {
            return Path.of(override);
        }
        try (Stream<Path> s = Files.list(debs)) {
            return s.filter(p -> DEB.matcher(p.getFileName().toString()).matches())
                    .max(Comparator.comparing(p -> p.getFileName().toString())).orElse(null);
        }
    }

    private static Path download(Path debs) throws IOException {
        Commands.require("apt-get", "apt");
        String hint = "The lab boots a Debian kernel that it downloads once (not installs) with apt-get into "
                + debs + ". Run `apt-get update` if the package lists are missing, or copy a "
                + "linux-image-<version>-amd64_<version>_amd64.deb there by hand to work offline.";
        // linux-image-amd64 is the metapackage; its first dependency is the current versioned kernel.
        String depends;
        try {
            depends = Commands.run(null, List.of("apt-cache", "depends", "linux-image-amd64"), hint);
        } catch (LabException noLists) {
            if (!"root".equals(System.getProperty("user.name"))) {
                throw noLists;
            }
            // Minimal images ship without package lists; as root, fetch them once, as bin/test would.
            System.err.println("isthmus-lab: no apt package lists; running apt-get update");
            Commands.run(null, List.of("apt-get", "update", "-qq"), hint);
            depends = Commands.run(null, List.of("apt-cache", "depends", "linux-image-amd64"), hint);
        }
        Matcher m = Pattern.compile("Depends: (linux-image-[^\\s]+-amd64)").matcher(depends);
        if (!m.find()) {
            throw new LabException("apt-cache depends linux-image-amd64 names no kernel package:\n" + depends + hint);
        }
        String pkg = m.group(1);
        System.err.println("isthmus-lab: downloading the guest kernel " + pkg + " into " + debs
                + " (once; it is not installed on this host)");
        Path tmp = Files.createTempDirectory(debs, ".download-");
        try {
            Commands.run(tmp, List.of("apt-get", "download", "-q", pkg), hint);
            Path got;
            try (Stream<Path> s = Files.list(tmp)) {
                got = s.filter(p -> p.toString().endsWith(".deb")).findFirst()
                        .orElseThrow(() -> new LabException("apt-get download " + pkg + " produced no .deb. " + hint));
            }
            Path target = debs.resolve(got.getFileName());
            Files.move(got, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return target;
        } finally {
            Cache.deleteTree(tmp);
        }
    }

    /**
     * Unpacks {@code deb} into {@code dir}, a private build directory: the unpacked tree is about 400 MB of
     * which the lab uses a few, so it is not kept (unpacking again takes seconds).
     */
    static DebianKernel unpack(Path deb, Path dir) throws IOException {
        String name = deb.getFileName().toString();
        Commands.require("dpkg", "dpkg");
        Commands.run(null, List.of("dpkg", "-x", deb.toString(), dir.toString()),
                "The kernel package " + deb + " may be damaged; delete it and run again to download it anew.");
        Path vmlinuz;
        try (Stream<Path> s = Files.list(dir.resolve("boot"))) {
            vmlinuz = s.filter(p -> p.getFileName().toString().startsWith("vmlinuz-")).findFirst()
                    .orElseThrow(() -> new LabException(deb + " holds no boot/vmlinuz-*: not a kernel image package"));
        }
        Map<String, Path> modules = new HashMap<>();
        try (Stream<Path> s = Files.walk(dir.resolve("lib/modules"))) {
            s.filter(p -> p.getFileName().toString().endsWith(".ko"))
                    .forEach(p -> modules.put(moduleName(p.getFileName().toString()), p));
        }
        return new DebianKernel(name, vmlinuz, modules);
    }

    private static String moduleName(String fileOrName) {
        return fileOrName.replaceAll("\\.ko$", "").replace('-', '_');
    }

    /** The package file this kernel came from (it names the version; part of the image's cache key). */
    String debName() {
        return debName;
    }

    Path vmlinuz() {
        return vmlinuz;
    }

    /**
     * The module files that load {@code wanted}, dependencies first (from each module's {@code depends=}
     * field, as modprobe would: the package ships no modules.dep, which depmod makes at installation).
     */
    List<Path> loadOrder(List<String> wanted) {
        Set<String> order = new LinkedHashSet<>();
        for (String w : wanted) {
            visit(moduleName(w), order, new ArrayList<>());
        }
        return order.stream().map(modules::get).toList();
    }

    private void visit(String name, Set<String> order, List<String> path) {
        if (order.contains(name)) {
            return;
        }
        Path file = modules.get(name);
        if (file == null) {
            throw new LabException("kernel module " + name + " is not in " + debName
                    + (path.isEmpty() ? "" : " (needed by " + String.join(" <- ", path) + ")")
                    + ": the lab needs a Debian amd64 kernel built with it as a module");
        }
        if (path.contains(name)) {
            throw new LabException("kernel modules depend on each other in a cycle: " + path + " -> " + name);
        }
        path.add(name);
        for (String dep : depends(file)) {
            visit(moduleName(dep), order, path);
        }
        path.removeLast();
        order.add(name);
    }

    private static List<String> depends(Path ko) {
        try {
            // The .modinfo section holds NUL-terminated "key=value" strings; ISO-8859-1 keeps bytes 1:1.
            String text = new String(Files.readAllBytes(ko), StandardCharsets.ISO_8859_1);
            Matcher m = DEPENDS.matcher(text);
            if (!m.find() || m.group(1).isEmpty()) {
                return List.of();
            }
            return List.of(m.group(1).split(","));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
