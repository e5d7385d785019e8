package io.isthmus.vfio.pci;

/**
 * Offsets and bits of the PCI configuration header (PCI Local Bus 3.0, section 6.1; Linux's
 * {@code include/uapi/linux/pci_regs.h}, whose names these follow without the {@code PCI_} prefix), for
 * {@code VfioDevice.readConfig16}/{@code writeConfig16}, {@code setCommandBits} and {@link ConfigSpace}.
 *
 * <p>A user-space driver typically needs {@link #COMMAND_MEMORY} (the device answers accesses to its memory BARs)
 * and {@link #COMMAND_MASTER} (the device may start DMA, and MSIs, which are memory writes):
 * {@code device.setCommandBits(PciConfig.COMMAND_MEMORY | PciConfig.COMMAND_MASTER)}.
 *
 * <p>Constants only; not instantiable.
 */
public final class PciConfig {
    private PciConfig() {}

    /** 16-bit vendor id. */
    public static final int VENDOR_ID = 0x00;
    /** 16-bit device id. */
    public static final int DEVICE_ID = 0x02;
    /** 16-bit command register; bits {@code COMMAND_*}. */
    public static final int COMMAND = 0x04;
    /** 16-bit status register; bits {@code STATUS_*}. */
    public static final int STATUS = 0x06;
    /** 8-bit revision id. */
    public static final int REVISION_ID = 0x08;
    /** 8-bit programming interface, then subclass (0x0a) and base class (0x0b): the 24-bit class code. */
    public static final int CLASS_PROG = 0x09;
    /** 8-bit subclass. */
    public static final int CLASS_DEVICE = 0x0a;
    /** 8-bit base class. */
    public static final int CLASS_BASE = 0x0b;
    /** 8-bit cache line size, in 32-bit words. */
    public static final int CACHE_LINE_SIZE = 0x0c;
    /** 8-bit latency timer. */
    public static final int LATENCY_TIMER = 0x0d;
    /** 8-bit header type: 0 endpoint, 1 PCI bridge, 2 CardBus bridge; bit 7 multi-function. */
    public static final int HEADER_TYPE = 0x0e;
    /** 32-bit BAR 0; BAR n is at {@code BASE_ADDRESS_0 + 4 * n}. */
    public static final int BASE_ADDRESS_0 = 0x10;
    /** 16-bit subsystem vendor id (header type 0). */
    public static final int SUBSYSTEM_VENDOR_ID = 0x2c;
    /** 16-bit subsystem id (header type 0). */
    public static final int SUBSYSTEM_ID = 0x2e;
    /** 8-bit offset of the first capability (header type 0 and 1), when {@link #STATUS_CAP_LIST} is set. */
    public static final int CAPABILITY_LIST = 0x34;
    /** 8-bit interrupt line: a scratch register for software, the hardware ignores it. */
    public static final int INTERRUPT_LINE = 0x3c;
    /** 8-bit interrupt pin: 0 none, 1..4 INTA..INTD. */
    public static final int INTERRUPT_PIN = 0x3d;

    /** Command: respond to I/O space accesses. */
    public static final int COMMAND_IO = 0x0001;
    /** Command: respond to memory space accesses (the memory BARs). */
    public static final int COMMAND_MEMORY = 0x0002;
    /** Command: bus mastering, the device may issue memory reads and writes: DMA, and MSI/MSI-X messages. */
    public static final int COMMAND_MASTER = 0x0004;
    /** Command: respond to special cycles. */
    public static final int COMMAND_SPECIAL = 0x0008;
    /** Command: use memory write and invalidate. */
    public static final int COMMAND_INVALIDATE = 0x0010;
    /** Command: VGA palette snooping. */
    public static final int COMMAND_VGA_PALETTE = 0x0020;
    /** Command: respond to parity errors. */
    public static final int COMMAND_PARITY = 0x0040;
    /** Command: SERR# enable. */
    public static final int COMMAND_SERR = 0x0100;
    /** Command: fast back-to-back writes. */
    public static final int COMMAND_FAST_BACK = 0x0200;
    /** Command: INTx emulation disable (the device does not assert its INTx pin). */
    public static final int COMMAND_INTX_DISABLE = 0x0400;

    /** Status: the device's INTx is asserted. */
    public static final int STATUS_INTERRUPT = 0x0008;
    /** Status: the capability list at {@link #CAPABILITY_LIST} exists. */
    public static final int STATUS_CAP_LIST = 0x0010;
    /** Status: a master abort was received (the device's DMA hit nothing). */
    public static final int STATUS_REC_MASTER_ABORT = 0x2000;
    /** Status: a system error was signalled. */
    public static final int STATUS_SIG_SYSTEM_ERROR = 0x4000;
    /** Status: a parity error was detected. */
    public static final int STATUS_DETECTED_PARITY = 0x8000;
}
