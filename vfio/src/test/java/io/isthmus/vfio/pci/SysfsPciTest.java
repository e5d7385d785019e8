package io.isthmus.vfio.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.vfio.PciAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** sysfs PCI listing on a synthetic tree laid out like the kernel's, and on this machine's real /sys. */
class SysfsPciTest {
    /** Builds {@code root/bus/pci/devices/BDF} with the files and links the kernel provides. */
    static Path device(Path root, String bdf, String vendor, String device, String cls, String driver, Integer group,
            byte[] config) throws Exception {
        Path real = Files.createDirectories(root.resolve("devices/pci0000:00/" + bdf));
        Files.writeString(real.resolve("vendor"), vendor + "\n");
        Files.writeString(real.resolve("device"), device + "\n");
        Files.writeString(real.resolve("subsystem_vendor"), "0x1af4\n");
        Files.writeString(real.resolve("subsystem_device"), "0x1100\n");
        Files.writeString(real.resolve("class"), cls + "\n");
        Files.writeString(real.resolve("revision"), "0x10\n");
        Files.writeString(real.resolve("driver_override"), "(null)\n");
        Files.writeString(real.resolve("resource"), "0x00000000fea00000 0x00000000feafffff 0x0000000000040200\n"
                + "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                + "0x000000c000000000 0x000000c0ffffffff 0x000000000014220c\n");
        Files.write(real.resolve("config"), config);
        Path devices = Files.createDirectories(root.resolve("bus/pci/devices"));
        Files.createSymbolicLink(devices.resolve(bdf), Path.of("../../../devices/pci0000:00/" + bdf));
        if (driver != null) {
            Files.createDirectories(root.resolve("bus/pci/drivers/" + driver));
            Files.createSymbolicLink(real.resolve("driver"), Path.of("../../../bus/pci/drivers/" + driver));
        }
        if (group != null) {
            Path g = Files.createDirectories(root.resolve("kernel/iommu_groups/" + group + "/devices"));
            Files.createSymbolicLink(real.resolve("iommu_group"), Path.of("../../../kernel/iommu_groups/" + group));
            Files.createSymbolicLink(g.resolve(bdf), Path.of("../../../../devices/pci0000:00/" + bdf));
        }
        return real;
    }

    static byte[] eduConfig() throws Exception {
        return ConfigSpace.parseLspciHex(Files.readString(Path.of("src/test/resources/pci/qemu-edu.lspci"))).bytes();
    }

    @Test
    void syntheticTreeListsIdsDriversGroupsAndResources(@TempDir Path root) throws Exception {
        device(root, "0000:00:03.0", "0x8086", "0x10d3", "0x020000", "e1000e", 4, eduConfig());
        device(root, "0000:00:02.0", "0x1234", "0x11e8", "0x00ff00", "vfio-pci", 3, eduConfig());
        device(root, "0000:01:00.0", "0x10de", "0x2330", "0x030200", null, null, eduConfig());
        SysfsPci sysfs = new SysfsPci(root);
        List<PciDevice> all = sysfs.devices();
        assertEquals(List.of("0000:00:02.0", "0000:00:03.0", "0000:01:00.0"),
                all.stream().map(d -> d.address().toString()).toList());
        PciDevice edu = all.getFirst();
        assertEquals(0x1234, edu.vendor());
        assertEquals(0x11e8, edu.device());
        assertEquals(0x00ff00, edu.classCode());
        assertTrue(edu.boundToVfio());
        assertEquals(OptionalInt.of(3), edu.iommuGroup());
        assertTrue(edu.driverOverride().isEmpty(), "(null) means no override");
        assertEquals(0x100000, edu.resources().get(0).size());
        assertEquals(0, edu.resources().get(1).size());
        PciResource bar2 = edu.resources().get(2);
        assertTrue(bar2.is64bit() && bar2.prefetchable() && bar2.memory());
        assertEquals("Memory at c000000000 (64-bit, prefetchable) [size=4G]", bar2.describe());
        PciDevice gpu = all.get(2);
        assertTrue(gpu.driver().isEmpty() && gpu.iommuGroup().isEmpty());
        assertEquals("3D controller", gpu.className());
        assertEquals(List.of(PciAddress.parse("0000:00:03.0")), sysfs.groupMembers(4));
        assertEquals("0000:00:03.0 (e1000e)", sysfs.describeGroup(4));
        assertEquals(0x1234, sysfs.config(edu.address()).vendorId());
        var e = assertThrows(IllegalArgumentException.class, () -> sysfs.require(PciAddress.parse("00:1f.0")));
        assertTrue(e.getMessage().contains("no PCI device 0000:00:1f.0"), e.getMessage());
    }

    @Test
    void bindingRefusesClearlyWhenVfioPciIsNotLoaded(@TempDir Path root) throws Exception {
        Path dev = device(root, "0000:00:03.0", "0x8086", "0x10d3", "0x020000", "e1000e", 4, eduConfig());
        SysfsPci sysfs = new SysfsPci(root);
        var e = assertThrows(IllegalStateException.class, () -> sysfs.bindToVfio(PciAddress.parse("00:03.0")));
        assertTrue(e.getMessage().contains("modprobe vfio-pci"), e.getMessage());
        assertEquals("(null)\n", Files.readString(dev.resolve("driver_override")), "nothing written before the check");
    }

    @Test
    void realSysfsAgreesWithItsFiles() throws Exception {
        SysfsPci sysfs = SysfsPci.system();
        List<PciDevice> devices = sysfs.devices();
        Path dir = Path.of("/sys/bus/pci/devices");
        try (var s = Files.list(dir)) {
            assertEquals(s.count(), devices.size());
        }
        assertFalse(devices.isEmpty());
        for (PciDevice d : devices) {
            Path p = dir.resolve(d.address().toString());
            assertEquals(Integer.decode(Files.readString(p.resolve("vendor")).trim()), d.vendor());
            assertEquals(Integer.decode(Files.readString(p.resolve("class")).trim()), d.classCode());
            assertEquals(Files.exists(p.resolve("driver")), d.driver().isPresent());
            assertEquals(Files.exists(p.resolve("iommu_group")), d.iommuGroup().isPresent());
            long lines = Files.readAllLines(p.resolve("resource")).size();
            assertEquals(lines, d.resources().size());
        }
    }
}
