package io.isthmus.vfio.pci;

import io.isthmus.vfio.PciAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A PCI function as sysfs describes it ({@code /sys/bus/pci/devices/DDDD:BB:DD.F}): ids, class, the driver bound
 * to it, its IOMMU group and resources. A snapshot taken by {@link SysfsPci}; immutable.
 *
 * @param classCode 24-bit class code (base class, subclass, prog-if)
 * @param driver    the bound driver's name, empty when none
 * @param iommuGroup the IOMMU group number, empty when the machine has no IOMMU (or it is off)
 */
public record PciDevice(PciAddress address, Path path, int vendor, int device, int subsystemVendor,
        int subsystemDevice, int classCode, int revision, Optional<String> driver, Optional<String> driverOverride,
        OptionalInt iommuGroup, List<PciResource> resources) {

    /** Whether vfio-pci drives this function. */
    public boolean boundToVfio() {
        return driver.filter("vfio-pci"::equals).isPresent();
    }

    /** The class's name, e.g. {@code Ethernet controller}. */
    public String className() {
        return PciClassNames.of(classCode);
    }

    /** One lspci-like line: {@code 0000:00:03.0 Ethernet controller [0200]: 1af4:1041 (rev 01) group 3 virtio-pci}. */
    public String describe() {
        return String.format("%s %s [%04x]: %04x:%04x (rev %02x) iommu_group %s driver %s", address, className(),
                classCode >>> 8, vendor, device, revision,
                iommuGroup.isPresent() ? Integer.toString(iommuGroup.getAsInt()) : "-", driver.orElse("-"));
    }
}
