package io.isthmus.lab.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Runs in the lab guest: the lab's /init has put edu in its own IOMMU group and bound it to vfio-pci. */
@Tag("lab")
class EduVfioBindingLabTest {

    @Test
    void eduIsInAnIommuGroupAndBoundToVfioPci() throws IOException {
        EduDevice edu = EduDevice.find();
        String group = edu.iommuGroup();
        assertTrue(Files.isDirectory(Path.of("/sys/kernel/iommu_groups", group, "devices", edu.bdf())),
                "edu " + edu.bdf() + " is not listed in /sys/kernel/iommu_groups/" + group);
        assertEquals("vfio-pci", edu.driver(), "edu's driver");
        assertEquals("vfio-pci", EduDevice.read(edu.sysfs().resolve("driver_override")));
    }

    @Test
    void vfioDeviceNodesExist() throws IOException {
        String group = EduDevice.find().iommuGroup();
        assertTrue(Files.exists(Path.of("/dev/vfio/vfio")), "/dev/vfio/vfio (the container) is missing");
        assertTrue(Files.exists(Path.of("/dev/vfio", group)), "/dev/vfio/" + group + " (edu's group) is missing");
    }

    @Test
    void iommuTranslatesDma() throws IOException {
        // intel_iommu=on without iommu=pt: the kernel's default domain translates DMA, as VFIO expects.
        String type = EduDevice.read(Path.of("/sys/kernel/iommu_groups", EduDevice.find().iommuGroup(), "type"));
        assertTrue(type.startsWith("DMA"), "edu's group should translate DMA (DMA or DMA-FQ), is " + type);
    }
}
