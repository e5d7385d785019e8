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
}
