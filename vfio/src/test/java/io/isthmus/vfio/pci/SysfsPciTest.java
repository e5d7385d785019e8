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

    @Test
    void devicesAreFoundByIdAndByClass(@TempDir Path root) throws Exception {
        device(root, "0000:00:03.0", "0x8086", "0x10d3", "0x020000", "e1000e", 4, eduConfig());
        device(root, "0000:00:02.0", "0x1234", "0x11e8", "0x00ff00", "vfio-pci", 3, eduConfig());
        device(root, "0000:00:04.0", "0x1b36", "0x0010", "0x010802", "nvme", 5, eduConfig());
        device(root, "0000:00:05.0", "0x1234", "0x11e8", "0x00ff00", null, 6, eduConfig());
        SysfsPci sysfs = new SysfsPci(root);
        assertEquals(List.of("0000:00:02.0", "0000:00:05.0"), addresses(sysfs.withId(0x1234, 0x11e8)));
        assertEquals(List.of(), sysfs.withId(0x1234, 0x11e9));
        assertEquals(List.of("0000:00:03.0"), addresses(sysfs.withClass(0x02, 0x00)));
        assertEquals(List.of("0000:00:04.0"), addresses(sysfs.withClass(0x01, 0x08, 0x02)));
        assertEquals(List.of(), sysfs.withClass(0x01, 0x08, 0x03));
        assertEquals(List.of("0000:00:02.0", "0000:00:05.0"), addresses(sysfs.withClass(0x00, 0xff)));
        var e = assertThrows(IllegalArgumentException.class, () -> sysfs.withClass(0x0108, 0x02));
        assertTrue(e.getMessage().contains("base class is one byte"), e.getMessage());
    }

    private static List<String> addresses(List<PciDevice> devices) {
        return devices.stream().map(d -> d.address().toString()).toList();
    }

    @Test
    void aDeviceWhoseGroupWouldNotBeViableIsRefusedBeforeAnyWrite(@TempDir Path root) throws Exception {
        // Group 3: an edu without driver, and an e1000 and a bridge port behind the same IOMMU group.
        Path edu = device(root, "0000:01:01.0", "0x1234", "0x11e8", "0x00ff00", null, 3, eduConfig());
        Path nic = device(root, "0000:01:02.0", "0x8086", "0x100e", "0x020000", "e1000", 3, eduConfig());
        device(root, "0000:00:0a.0", "0x1b36", "0x000e", "0x060400", "pcieport", 3, eduConfig());
        Files.createDirectories(root.resolve("bus/pci/drivers/vfio-pci"));
        Files.writeString(root.resolve("bus/pci/drivers_probe"), "");
        SysfsPci sysfs = new SysfsPci(root);
        PciAddress eduAddr = PciAddress.parse("0000:01:01.0"), nicAddr = PciAddress.parse("0000:01:02.0");
        assertEquals(List.of(nicAddr), sysfs.viabilityBlockers(3, List.of(eduAddr)).stream()
                .map(PciDevice::address).toList(), "pcieport and no driver keep a group viable, e1000 does not");
        assertEquals(List.of(), sysfs.viabilityBlockers(3, List.of(eduAddr, nicAddr)));
        var e = assertThrows(IllegalStateException.class, () -> sysfs.bindToVfio(eduAddr));
        assertEquals("IOMMU group 3 of 0000:01:01.0 would not be viable: it also holds 0000:01:02.0 (e1000), driven"
                + " by the kernel, and VFIO needs every device of a group bound to vfio-pci or to no driver. Bind"
                + " them together ('isthmus vfio bind 0000:01:01.0 0000:01:02.0') or unbind them first; nothing was"
                + " changed", e.getMessage());
        assertEquals("(null)\n", Files.readString(edu.resolve("driver_override")), "nothing written");
        assertEquals("(null)\n", Files.readString(nic.resolve("driver_override")));
        assertEquals("", Files.readString(root.resolve("bus/pci/drivers_probe")));
        // No IOMMU group at all: refused too, saying why.
        device(root, "0000:00:07.0", "0x1234", "0x11e8", "0x00ff00", null, null, eduConfig());
        e = assertThrows(IllegalStateException.class, () -> sysfs.bindToVfio(PciAddress.parse("00:07.0")));
        assertTrue(e.getMessage().contains("has no IOMMU group") && e.getMessage().contains("nothing was changed"),
                e.getMessage());
    }
}
