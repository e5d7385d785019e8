package io.isthmus.lab.guest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** The lab's edu PCI device (QEMU's educational device, vendor 1234, device 11e8) as sysfs shows it. */
record EduDevice(String bdf, Path sysfs) {
    static final String VENDOR = "0x1234";
    static final String DEVICE = "0x11e8";

    /** The first edu device in the guest; fails when there is none. */
    static EduDevice find() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/sys/bus/pci/devices"))) {
            for (Path d : s.sorted().toList()) {
                if (read(d.resolve("vendor")).equals(VENDOR) && read(d.resolve("device")).equals(DEVICE)) {
                    return new EduDevice(d.getFileName().toString(), d);
                }
            }
        }
        throw new AssertionError("no edu device (1234:11e8) in /sys/bus/pci/devices: is QEMU run with -device edu?");
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
