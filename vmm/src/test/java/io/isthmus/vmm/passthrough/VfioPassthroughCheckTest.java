package io.isthmus.vmm.passthrough;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.isthmus.vfio.pci.PciDevice;
import io.isthmus.vfio.pci.SysfsPci;
import io.isthmus.vmm.config.OptionException;
import io.isthmus.vmm.config.VmConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The checks {@code -device vfio-pci} makes in sysfs before any VFIO call, on a synthetic sysfs tree: each bad
 * device is an error at its option naming the device and the reason.
 */
class VfioPassthroughCheckTest {
    @TempDir
    Path root;

    private SysfsPci sysfs() {
        return new SysfsPci(root);
    }

    /** A function in sysfs: ids, a driver link (null: none) and an IOMMU group link (-1: none). */
    private Path device(String address, String driver, int group) throws IOException {
        Path d = Files.createDirectories(root.resolve("bus/pci/devices/" + address));
        Files.writeString(d.resolve("vendor"), "0x1234\n");
        Files.writeString(d.resolve("device"), "0x11e8\n");
        Files.writeString(d.resolve("class"), "0x00ff00\n");
        if (driver != null) {
            Path drv = Files.createDirectories(root.resolve("bus/pci/drivers/" + driver));
            Files.createSymbolicLink(d.resolve("driver"), drv);
        }
        if (group >= 0) {
            Path g = Files.createDirectories(root.resolve("kernel/iommu_groups/" + group + "/devices"));
            Files.createSymbolicLink(d.resolve("iommu_group"), g.getParent());
            Files.createSymbolicLink(g.resolve(address), d);
        }
        return d;
    }

    private VmConfig.VfioPci spec(String address) {
        return new VmConfig.VfioPci("-device vfio-pci,host=" + address,
                root.resolve("bus/pci/devices/" + address).toString(), -1);
    }

    private String error(VmConfig.VfioPci... specs) {
        return assertThrows(OptionException.class, () -> VfioPassthrough.check(List.of(specs), sysfs()))
                .format("isthmus-vmm");
    }

    @Test
    void aBoundDeviceInAViableGroupPasses() throws IOException {
        device("0000:00:04.0", "vfio-pci", 5);
        device("0000:00:05.0", "vfio-pci", 6);
        List<PciDevice> d = VfioPassthrough.check(List.of(spec("0000:00:04.0"), spec("0000:00:05.0")), sysfs());
        assertEquals(List.of(5, 6), d.stream().map(x -> x.iommuGroup().getAsInt()).toList());
    }

    @Test
    void noSuchHostDevice() {
        VmConfig.VfioPci s = spec("0000:00:09.0");
        assertEquals("isthmus-vmm: -device vfio-pci,host=0000:00:09.0: vfio " + s.sysfsdev() + ": no such host"
                + " device: No such file or directory", error(s));
    }

    @Test
    void notAPciDevice() throws IOException {
        Path dir = Files.createDirectories(root.resolve("devices/platform/serial8250"));
        VmConfig.VfioPci s = new VmConfig.VfioPci("-device vfio-pci,sysfsdev=" + dir, dir.toString(), -1);
        assertEquals("isthmus-vmm: -device vfio-pci,sysfsdev=" + dir + ": vfio serial8250: not a PCI device (" + dir
                + " is not a PCI function's sysfs directory, named DDDD:BB:DD.F)", error(s));
    }

    @Test
    void notBoundToVfioPci() throws IOException {
        device("0000:00:04.0", "e1000", 5);
        device("0000:00:06.0", null, 7);
        assertEquals("isthmus-vmm: -device vfio-pci,host=0000:00:04.0: vfio 0000:00:04.0: not bound to vfio-pci (its"
                + " driver is e1000): bind it first ('isthmus vfio bind 0000:00:04.0' as root)",
                error(spec("0000:00:04.0")));
        assertEquals("isthmus-vmm: -device vfio-pci,host=0000:00:06.0: vfio 0000:00:06.0: not bound to vfio-pci (its"
                + " driver is none): bind it first ('isthmus vfio bind 0000:00:06.0' as root)",
                error(spec("0000:00:06.0")));
    }

    @Test
    void noIommuGroup() throws IOException {
        device("0000:00:04.0", "vfio-pci", -1);
        assertEquals("isthmus-vmm: -device vfio-pci,host=0000:00:04.0: vfio 0000:00:04.0: no iommu_group found: the"
                + " host's IOMMU is off or missing (boot with intel_iommu=on or amd_iommu=on)",
                error(spec("0000:00:04.0")));
    }

    @Test
    void groupNotViable() throws IOException {
        device("0000:00:04.0", "vfio-pci", 5);
        device("0000:00:04.1", "snd_hda_intel", 5);
        assertEquals("isthmus-vmm: -device vfio-pci,host=0000:00:04.0: vfio 0000:00:04.0: group 5 is not viable:"
                + " 0000:00:04.1 is bound to snd_hda_intel\n"
                + "Please ensure all devices within the iommu_group are bound to their vfio bus driver.",
                error(spec("0000:00:04.0")));
    }

    @Test
    void sameDeviceTwice() throws IOException {
        device("0000:00:04.0", "vfio-pci", 5);
        assertEquals("isthmus-vmm: -device vfio-pci,host=0000:00:04.0: vfio 0000:00:04.0: device is already attached"
                + " (it is given twice)", error(spec("0000:00:04.0"), spec("0000:00:04.0")));
    }
}
