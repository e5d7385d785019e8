package io.isthmus.vmm.pci;

/**
 * Numbers of the PCI and PCI Express specifications this package uses: type 0 header offsets, command and status
 * bits, BAR type bits, capability ids. Names follow Linux's {@code include/uapi/linux/pci_regs.h}.
 *
 * <p>Constants only; not instantiable.
 */
public final class Pci {
    private Pci() {}

    /** Configuration space sizes: conventional PCI, and PCI Express (extended capabilities from 0x100). */
    public static final int CONFIG_SIZE = 0x100, EXPRESS_CONFIG_SIZE = 0x1000;
    /** The end of the type 0 header: device-specific registers and capabilities start here. */
    public static final int HEADER_SIZE = 0x40;

    public static final int VENDOR_ID = 0x00, DEVICE_ID = 0x02, COMMAND = 0x04, STATUS = 0x06, REVISION_ID = 0x08;
    public static final int CLASS_PROG = 0x09, CACHE_LINE_SIZE = 0x0c, HEADER_TYPE = 0x0e, BAR0 = 0x10;
    public static final int SUBSYSTEM_VENDOR_ID = 0x2c, SUBSYSTEM_ID = 0x2e, ROM_ADDRESS = 0x30;
    public static final int CAPABILITY_LIST = 0x34, INTERRUPT_LINE = 0x3c, INTERRUPT_PIN = 0x3d;

    /** Command register bits. */
    public static final int COMMAND_IO = 0x1, COMMAND_MEMORY = 0x2, COMMAND_MASTER = 0x4, COMMAND_SERR = 0x100;
    public static final int COMMAND_INTX_DISABLE = 0x400;

    /** Status register bits. */
    public static final int STATUS_INTERRUPT = 0x8, STATUS_CAP_LIST = 0x10;
    /** The status bits software clears by writing 1 (parity, aborts, system error), as QEMU's w1cmask. */
    public static final int STATUS_W1C = 0x0100 | 0x0800 | 0x1000 | 0x2000 | 0x4000 | 0x8000;

    /** Header type: multi-function bit. */
    public static final int HEADER_TYPE_MULTI_FUNCTION = 0x80;

    /** BAR type bits. */
    public static final int BAR_IO = 0x1, BAR_MEM_TYPE_64 = 0x4, BAR_MEM_PREFETCH = 0x8;

    /** Capability ids. */
    public static final int CAP_ID_MSI = 0x05, CAP_ID_EXP = 0x10, CAP_ID_MSIX = 0x11;

    /** The 6 BARs of a type 0 header. */
    public static final int BARS = 6;
    /** Functions on a bus: 32 devices of 8 functions. */
    public static final int DEVFNS = 256;

    /** {@code devfn} of device {@code slot}, function {@code function}. */
    public static int devfn(int slot, int function) {
        return slot << 3 | function;
    }

    /** "00:01.0" for a devfn on bus 0. */
    public static String address(int devfn) {
        return String.format("00:%02x.%x", devfn >> 3, devfn & 7);
    }
}
