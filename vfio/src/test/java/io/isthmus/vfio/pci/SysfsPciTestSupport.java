package io.isthmus.vfio.pci;

import java.nio.file.Path;

/** Synthetic sysfs trees for tests in other packages. */
public final class SysfsPciTestSupport {
    private SysfsPciTestSupport() {}

    /** A tree with QEMU's edu at 0000:00:02.0, bound to vfio-pci, alone in IOMMU group 3. */
    public static void edu(Path root) throws Exception {
        SysfsPciTest.device(root, "0000:00:02.0", "0x1234", "0x11e8", "0x00ff00", "vfio-pci", 3,
                SysfsPciTest.eduConfig());
    }

    /**
     * A tree with IOMMU group 3 holding an edu without driver at 0000:01:01.0 and an e1000 at 0000:01:02.0 (the lab's
     * non-viable group), vfio-pci loaded.
     */
    public static void nonViableGroup(Path root) throws Exception {
        SysfsPciTest.device(root, "0000:01:01.0", "0x1234", "0x11e8", "0x00ff00", null, 3, SysfsPciTest.eduConfig());
        SysfsPciTest.device(root, "0000:01:02.0", "0x8086", "0x100e", "0x020000", "e1000", 3,
                SysfsPciTest.eduConfig());
        java.nio.file.Files.createDirectories(root.resolve("bus/pci/drivers/vfio-pci"));
    }
}
