package io.isthmus.lab.guest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** The lab's edu PCI device (QEMU's educational device, vendor 1234, device 11e8) as sysfs shows it. */
record EduDevice(String bdf, Path sysfs) {
    static final String VENDOR = "0x1234";
    static final String DEVICE = "0x11e8";

    /**
     * The lab's main edu: the one the lab's /init names in {@code ISTHMUS_LAB_EDU} (a second edu sits behind a PCI
     * bridge in a group that is not viable); without it, the only edu. Fails when there is none or it is ambiguous.
     */
    static EduDevice find() throws IOException {
        String named = System.getenv("ISTHMUS_LAB_EDU");
        if (named != null) {
            Path d = Path.of("/sys/bus/pci/devices", named);
            if (!Files.isDirectory(d) || !read(d.resolve("vendor")).equals(VENDOR)
                    || !read(d.resolve("device")).equals(DEVICE)) {
                throw new AssertionError("ISTHMUS_LAB_EDU=" + named + " is not an edu device (1234:11e8) in sysfs");
            }
            return new EduDevice(named, d);
        }
        List<EduDevice> found = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("/sys/bus/pci/devices"))) {
            for (Path d : s.sorted().toList()) {
                if (read(d.resolve("vendor")).equals(VENDOR) && read(d.resolve("device")).equals(DEVICE)) {
                    found.add(new EduDevice(d.getFileName().toString(), d));
                }
            }
        }
        if (found.size() != 1) {
            throw new AssertionError(found.isEmpty()
                    ? "no edu device (1234:11e8) in /sys/bus/pci/devices: is QEMU run with -device edu?"
                    : "several edu devices " + found + " and no ISTHMUS_LAB_EDU naming the one to test");
        }
        return found.getFirst();
    }

    /** The IOMMU group number. */
    String iommuGroup() throws IOException {
        return Files.readSymbolicLink(sysfs.resolve("iommu_group")).getFileName().toString();
    }

    /** The bound driver's name, or null. */
    String driver() throws IOException {
        Path link = sysfs.resolve("driver");
        return Files.exists(link) ? Files.readSymbolicLink(link).getFileName().toString() : null;
    }

    static String read(Path p) throws IOException {
        return Files.readString(p).strip();
    }
}
