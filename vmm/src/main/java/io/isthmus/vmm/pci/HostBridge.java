package io.isthmus.vmm.pci;

/**
 * The host bridge's own function at 00:00.0, as QEMU's GPEX root ({@code gpex-root}): Red Hat's vendor id 0x1b36,
 * device 0x0008 ("QEMU PCIe Host bridge"), class 0x060000 (host bridge), revision 0, QEMU's default subsystem
 * 0x1af4:0x1100, a conventional 256-byte configuration space with no BARs, no capabilities and no interrupt pin.
 * Checked against QEMU's by the lab's differential test, which dumps it from a guest under both VMMs.
 *
 * <p>Thread-safe.
 */
public final class HostBridge implements PciFunction {
    public static final int VENDOR = 0x1b36, DEVICE = 0x0008, CLASS = 0x060000;
    public static final int SUBSYSTEM_VENDOR = 0x1af4, SUBSYSTEM = 0x1100;

    private final PciConfigSpace config = new PciConfigSpace(Pci.CONFIG_SIZE, VENDOR, DEVICE, 0, CLASS,
            SUBSYSTEM_VENDOR, SUBSYSTEM);

    @Override
    public String name() {
        return "gpex-root";
    }

    @Override
    public PciConfigSpace config() {
        return config;
    }
}
