package io.isthmus.vmm.pci;

import io.isthmus.kvm.bus.BusDevice;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code -device isthmus-testdev}: an emulated PCI function for tests and for seeing the bus from a guest, shaped
 * like the devices passthrough brings (a register BAR with the MSI-X table in it, a large 64-bit prefetchable BAR).
 * Not a QEMU device: QEMU has none with this shape.
 *
 * <ul>
 *   <li>Ids: vendor 0x1234 (the unassigned id QEMU's own test devices use), device 0x7e57, class 0xff0000
 *       (unassigned), subsystem 0x1af4:0x1100 (QEMU's default), INTA.</li>
 *   <li>BAR0: 32-bit memory, 16 KiB: registers at 0x0000 (below), the MSI-X table at 0x2000, its PBA at 0x3000.</li>
 *   <li>BAR2 (and 3): 64-bit prefetchable memory of {@code membar} bytes (128 GiB by default, the size of an H100's
 *       BAR2), emulated, not backed by memory: a read returns the 4 KiB page number of its offset
 *       ({@code offset >> 12}), so a guest can tell where in the BAR it reads; writes are ignored.</li>
 *   <li>Capabilities: MSI-X with {@code vectors} entries (8 by default), then MSI with 4 vectors.</li>
 * </ul>
 *
 * <p>Registers (32-bit, 4-byte accesses; others read 0 and are ignored):
 * <pre>
 *   0x00 ID       RO  0x7e570001
 *   0x04 SCRATCH  RW  any value, 0 after reset
 *   0x08 MEMBAR   RO  BAR2's size, low 32 bits; 0x0c the high 32 bits
 *   0x10 FIRE     WO  raise vector N: MSI-X when enabled, else MSI when enabled, else assert INTA
 *   0x14 INTX     WO  0 deasserts INTA, anything else asserts it
 *   0x18 FIRED    RO  how many FIRE writes so far
 *   0x1c VECTORS  RO  MSI-X table entries
 * </pre>
 *
 * <p>Lifetime: the machine's; {@link #close()} releases its vectors. Thread-safe; register accesses allocate
 * nothing.
 */
public final class IsthmusTestDevice implements PciFunction {
    public static final int VENDOR = 0x1234, DEVICE = 0x7e57, CLASS = 0xff0000, ID = 0x7e57_0001;
    public static final long BAR0_SIZE = 0x4000, TABLE_OFFSET = 0x2000, PBA_OFFSET = 0x3000;
    public static final long DEFAULT_MEMBAR = 128L << 30;
    public static final int DEFAULT_VECTORS = 8, MAX_VECTORS = 256, MSI_VECTORS = 4;
    public static final int REG_ID = 0x00, REG_SCRATCH = 0x04, REG_MEMBAR = 0x08, REG_FIRE = 0x10, REG_INTX = 0x14;
    public static final int REG_FIRED = 0x18, REG_VECTORS = 0x1c;

    private final PciConfigSpace config = new PciConfigSpace(Pci.CONFIG_SIZE, VENDOR, DEVICE, 0, CLASS,
            HostBridge.SUBSYSTEM_VENDOR, HostBridge.SUBSYSTEM);
    private final long membar;
    private final int vectors;
    private final MsixCapability msix;
    private final MsiCapability msi;
    private volatile int scratch;
    private final AtomicInteger fired = new AtomicInteger();

    /**
     * A test device with a {@code membar}-byte BAR2 (a power of two, at least 4 KiB) and {@code vectors} MSI-X
     * vectors (1 to 256).
     */
    public IsthmusTestDevice(long membar, int vectors) {
        if (Long.bitCount(membar) != 1 || membar < 4096) {
            throw new IllegalArgumentException(String.format("isthmus-testdev: membar=0x%x must be a power of two of"
                    + " at least 4 KiB", membar));
        }
        if (vectors < 1 || vectors > MAX_VECTORS) {
            throw new IllegalArgumentException("isthmus-testdev: vectors=" + vectors + " must be 1 to " + MAX_VECTORS);
        }
        this.membar = membar;
        this.vectors = vectors;
        config.setInterruptPin(1);
        config.addBar(PciBar.memory32(0, BAR0_SIZE, new Bar0()));
        config.addBar(PciBar.memory64(2, membar, true, new Bar2()));
        msix = MsixCapability.add(config, vectors, 0, TABLE_OFFSET, 0, PBA_OFFSET);
        msi = MsiCapability.add(config, MSI_VECTORS);
    }

    @Override
    public String name() {
        return "isthmus-testdev";
    }

    @Override
    public PciConfigSpace config() {
        return config;
    }

    /** Its MSI-X capability. */
    public MsixCapability msix() {
        return msix;
    }

    /** Its MSI capability. */
    public MsiCapability msi() {
        return msi;
    }

    @Override
    public void attach(PciSlot slot) {
        String owner = name() + " " + slot.address();
        msix.attach(slot.msi(), owner);
        msi.attach(slot.msi(), owner);
    }

    @Override
    public void reset() {
        scratch = 0;
        fired.set(0);
    }

    @Override
    public void close() {
        msix.close();
        msi.close();
    }

    private void fire(int vector) {
        fired.incrementAndGet();
        if (msix.enabled()) {
            msix.notify(vector);
        } else if (msi.enabled()) {
            msi.notify(vector);
        } else {
            config.setIntx(true);
        }
    }

    /** Registers, the MSI-X table and the PBA. */
    private final class Bar0 implements BusDevice {
        @Override
        public long read(long offset, int size) {
            if (offset >= TABLE_OFFSET && offset < PBA_OFFSET) {
                return msix.readTable(offset - TABLE_OFFSET, size);
            }
            if (offset >= PBA_OFFSET) {
                return msix.readPba(offset - PBA_OFFSET, size);
            }
            if (size != 4 || (offset & 3) != 0) {
                return 0;
            }
            return switch ((int) offset) {
                case REG_ID -> ID;
                case REG_SCRATCH -> scratch;
                case REG_MEMBAR -> (int) membar;
                case REG_MEMBAR + 4 -> (int) (membar >>> 32);
                case REG_FIRED -> fired.get();
                case REG_VECTORS -> vectors;
                default -> 0;
            } & 0xffffffffL;
        }

        @Override
        public void write(long offset, int size, long value) {
            if (offset >= TABLE_OFFSET && offset < PBA_OFFSET) {
                msix.writeTable(offset - TABLE_OFFSET, size, value);
                return;
            }
            if (size != 4 || (offset & 3) != 0) {
                return;
            }
            switch ((int) offset) {
                case REG_SCRATCH -> scratch = (int) value;
                case REG_FIRE -> fire((int) value);
                case REG_INTX -> config.setIntx((int) value != 0);
                default -> { }
            }
        }
    }

    /** The large BAR: each read says which 4 KiB page of the BAR it hit. */
    private static final class Bar2 implements BusDevice {
        @Override
        public long read(long offset, int size) {
            return offset >>> 12;
        }

        @Override
        public void write(long offset, int size, long value) {
        }
    }
}
