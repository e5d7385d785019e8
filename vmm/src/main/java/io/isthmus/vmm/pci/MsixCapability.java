package io.isthmus.vmm.pci;

import io.isthmus.kvm.bus.BusDevice;

/**
 * An MSI-X capability (PCI 3.0 §6.8.2) and the table and pending bit array it points at, as QEMU's
 * {@code hw/pci/msix.c} models them: 12 bytes in configuration space (message control with the enable and
 * function-mask bits writable, the table's and PBA's BAR and offset read-only), a table of 16-byte entries (message
 * address, data, vector control with its mask bit) and a read-only PBA, each reached through the BAR it lives in
 * (the function puts {@link #table()} and {@link #pba()} there, or its mapper traps them).
 *
 * <p>Each vector has an {@link MsiVector} from the machine's {@link MsiRouter}: while MSI-X is enabled and neither
 * the function nor the vector is masked, the vector's KVM route is the entry's message; otherwise it has none.
 * {@link #notify} raises a vector through its irqfd, or sets its pending bit while it is masked; unmasking a vector
 * with its pending bit set delivers it and clears the bit. Every vector's entry is masked after reset.
 *
 * <p>Table and PBA accesses are 4 or 8 bytes, naturally aligned (the PCIe rule); others read 0 and are dropped, as
 * QEMU drops what its table regions do not accept. Lifetime: the function's; {@link #close()} releases the vectors.
 * Thread-safety: all state is guarded by the configuration space's lock; {@link #notify} allocates nothing.
 */
public final class MsixCapability {
    /** Bytes per table entry. */
    public static final int ENTRY_SIZE = 16;
    /** The most vectors a function can have (a table size field of 11 bits). */
    public static final int MAX_VECTORS = 2048;
    private static final int LENGTH = 12, CONTROL = 2, TABLE = 4, PBA = 8;
    private static final int CONTROL_ENABLE = 0x8000, CONTROL_MASK_ALL = 0x4000;
    private static final int ENTRY_MASKED = 1;

    private final PciConfigSpace config;
    private final int offset;
    private final int vectors;
    private final int tableBar, pbaBar;
    private final long tableOffset, pbaOffset;
    /** Per entry: address low, address high, data, vector control. */
    private final int[] table;
    private final long[] pending;
    private final boolean[] routed;
    private MsiVector[] out;
    private boolean enabled, functionMasked;

    private MsixCapability(PciConfigSpace config, int offset, int vectors, int tableBar, long tableOffset, int pbaBar,
                           long pbaOffset) {
        this.config = config;
        this.offset = offset;
        this.vectors = vectors;
        this.tableBar = tableBar;
        this.tableOffset = tableOffset;
        this.pbaBar = pbaBar;
        this.pbaOffset = pbaOffset;
        this.table = new int[4 * vectors];
        this.pending = new long[(vectors + 63) / 64];
        this.routed = new boolean[vectors];
        for (int v = 0; v < vectors; v++) {
            table[4 * v + 3] = ENTRY_MASKED;
        }
    }

    /**
     * Adds an MSI-X capability with {@code vectors} entries to {@code config}, its table at {@code tableOffset} in
     * BAR {@code tableBar} and its PBA at {@code pbaOffset} in BAR {@code pbaBar}; both BARs must be declared,
     * memory, and hold them without overlap; the offsets are 8-byte aligned.
     */
    public static MsixCapability add(PciConfigSpace config, int vectors, int tableBar, long tableOffset, int pbaBar,
                                     long pbaOffset) {
        if (vectors < 1 || vectors > MAX_VECTORS) {
            throw new IllegalArgumentException("MSI-X with " + vectors + " vectors: 1 to " + MAX_VECTORS);
        }
        long tableSize = (long) vectors * ENTRY_SIZE, pbaSize = pbaSize(vectors);
        check(config, "table", tableBar, tableOffset, tableSize);
        check(config, "PBA", pbaBar, pbaOffset, pbaSize);
        if (tableBar == pbaBar && tableOffset < pbaOffset + pbaSize && pbaOffset < tableOffset + tableSize) {
            throw new IllegalArgumentException(String.format("MSI-X table [0x%x+0x%x) and PBA [0x%x+0x%x) in BAR %d"
                    + " overlap", tableOffset, tableSize, pbaOffset, pbaSize, tableBar));
        }
        synchronized (config) {
            if (config.msix != null) {
                throw new IllegalArgumentException("the function already has an MSI-X capability");
            }
            int at = config.addCapability(Pci.CAP_ID_MSIX, LENGTH);
            config.put(at + CONTROL, 2, vectors - 1);
            config.put(at + TABLE, 4, (int) tableOffset | tableBar);
            config.put(at + PBA, 4, (int) pbaOffset | pbaBar);
            config.setWritable(at + CONTROL, 2, CONTROL_ENABLE | CONTROL_MASK_ALL);
            MsixCapability c = new MsixCapability(config, at, vectors, tableBar, tableOffset, pbaBar, pbaOffset);
            config.msix = c;
            return c;
        }
    }

    private static void check(PciConfigSpace config, String what, int bar, long offset, long size) {
        PciBar b = bar >= 0 && bar < Pci.BARS ? config.bar(bar) : null;
        if (b == null || b.kind() == PciBar.Kind.IO) {
            throw new IllegalArgumentException("MSI-X " + what + " in BAR " + bar + ", which is not a memory BAR of"
                    + " the function");
        }
        if ((offset & 7) != 0 || offset < 0 || offset + size > b.size()) {
            throw new IllegalArgumentException(String.format("MSI-X %s at 0x%x+0x%x does not fit %s 8-byte aligned",
                    what, offset, size, b));
        }
    }

    /** PBA bytes for {@code vectors}: whole QWORDs. */
    public static long pbaSize(int vectors) {
        return (vectors + 63) / 64 * 8L;
    }

    /** Takes a vector from {@code router} for each entry; called when the function is attached. */
    public void attach(MsiRouter router, String owner) {
        synchronized (config) {
            if (out != null) {
                throw new IllegalStateException("MSI-X vectors of " + owner + " are already allocated");
            }
            out = router.allocate(vectors, owner + " MSI-X");
        }
    }

    /** The capability's offset in configuration space. */
    public int offset() {
        return offset;
    }

    /** The number of table entries. */
    public int vectors() {
        return vectors;
    }

    /** Where the table is: BAR number and offset. */
    public int tableBar() {
        return tableBar;
    }

    public long tableOffset() {
        return tableOffset;
    }

    /** Where the PBA is: BAR number and offset. */
    public int pbaBar() {
        return pbaBar;
    }

    public long pbaOffset() {
        return pbaOffset;
    }

    /** Vector {@code v}'s irqfd and route ({@link #attach} first): a passthrough device signals its eventfd. */
    public MsiVector vector(int v) {
        synchronized (config) {
            return out[v];
        }
    }

    /** Whether the guest has enabled MSI-X (message control bit 15). */
    public boolean enabled() {
        synchronized (config) {
            return enabled;
        }
    }

    /** Whether vector {@code v} is masked: MSI-X off, the function masked, or the entry's mask bit. */
    public boolean masked(int v) {
        synchronized (config) {
            return isMasked(v);
        }
    }

    /** Whether vector {@code v}'s pending bit is set. */
    public boolean pending(int v) {
        synchronized (config) {
            return (pending[v >> 6] & 1L << v) != 0;
        }
    }

    /**
     * The device raises vector {@code v}: delivered when unmasked, pending while masked (MSI-X enabled), dropped
     * while MSI-X is off or for a vector the table does not have.
     */
    public void notify(int v) {
        synchronized (config) {
            if (v < 0 || v >= vectors || !enabled) {
                return;
            }
            if (isMasked(v)) {
                pending[v >> 6] |= 1L << v;
            } else if (out != null) {
                out[v].trigger();
            }
        }
    }

    private boolean isMasked(int v) {
        return !enabled || functionMasked || (table[4 * v + 3] & ENTRY_MASKED) != 0;
    }

    // ---- the table and PBA as the guest reaches them ----

    /** The table, as a device at {@link #tableOffset()} in its BAR. */
    public BusDevice table() {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return readTable(offset, size);
            }

            @Override
            public void write(long offset, int size, long value) {
                writeTable(offset, size, value);
            }
        };
    }

    /** The PBA, as a read-only device at {@link #pbaOffset()} in its BAR. */
    public BusDevice pba() {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return readPba(offset, size);
            }

            @Override
            public void write(long offset, int size, long value) {
            }
        };
    }

    /** The table's bytes in use: entries × 16. */
    public long tableSize() {
        return (long) vectors * ENTRY_SIZE;
    }

    /** A guest read of the table at {@code offset} from its start. */
    public long readTable(long offset, int size) {
        if (!valid(offset, size, tableSize())) {
            return 0;
        }
        synchronized (config) {
            int i = (int) (offset >> 2);
            long v = table[i] & 0xffffffffL;
            return size == 8 ? v | (table[i + 1] & 0xffffffffL) << 32 : v;
        }
    }

    /** A guest write to the table: the entry's message and mask bit; routes follow. */
    public void writeTable(long offset, int size, long value) {
        if (!valid(offset, size, tableSize())) {
            return;
        }
        synchronized (config) {
            writeTableDword((int) (offset >> 2), (int) value);
            if (size == 8) {
                writeTableDword((int) (offset >> 2) + 1, (int) (value >>> 32));
            }
        }
    }

    private void writeTableDword(int i, int value) {
        int v = i >> 2;
        boolean wasMasked = isMasked(v);
        // The vector control's bits other than the mask are reserved: they read 0. The address's low bits too.
        table[i] = switch (i & 3) {
            case 0 -> value & ~3;
            case 3 -> value & ENTRY_MASKED;
            default -> value;
        };
        update(v, wasMasked);
    }

    /** A guest read of the PBA at {@code offset} from its start. */
    public long readPba(long offset, int size) {
        if (!valid(offset, size, pbaSize(vectors))) {
            return 0;
        }
        synchronized (config) {
            long q = pending[(int) (offset >> 3)];
            return size == 8 ? q : q >>> (8 * (offset & 4)) & 0xffffffffL;
        }
    }

    private static boolean valid(long offset, int size, long length) {
        return (size == 4 || size == 8) && (offset & (size - 1)) == 0 && offset >= 0 && offset + size <= length;
    }

    // ---- hooks of the configuration space (its lock held) ----

    /** After a configuration write: the enable and function-mask bits may have changed. */
    void configWritten(int at, int size) {
        if (at > offset + CONTROL + 1 || at + size <= offset + CONTROL + 1) {
            return;
        }
        int control = config.get(offset + CONTROL, 2);
        boolean en = (control & CONTROL_ENABLE) != 0, fm = (control & CONTROL_MASK_ALL) != 0;
        boolean wasOff = !enabled || functionMasked;
        if (en == enabled && fm == functionMasked) {
            return;
        }
        enabled = en;
        functionMasked = fm;
        if (en) {
            config.setIntx(false); // as QEMU: a function using MSI-X does not assert INTx
        }
        for (int v = 0; v < vectors; v++) {
            update(v, wasOff || (table[4 * v + 3] & ENTRY_MASKED) != 0);
        }
    }

    /** Brings vector {@code v}'s route in line with its entry, and delivers a pending interrupt on unmasking. */
    private void update(int v, boolean wasMasked) {
        boolean masked = isMasked(v);
        if (out == null) {
            return;
        }
        if (!masked) {
            int e = 4 * v;
            out[v].route((table[e] & 0xffffffffL) | (table[e + 1] & 0xffffffffL) << 32, table[e + 2]);
            routed[v] = true;
            if (wasMasked && (pending[v >> 6] & 1L << v) != 0) {
                pending[v >> 6] &= ~(1L << v);
                out[v].trigger();
            }
        } else if (routed[v]) {
            out[v].unroute();
            routed[v] = false;
        }
    }

    /** QEMU's {@code msix_reset}: disabled, function masked, every entry zeroed and masked, nothing pending. */
    void reset() {
        config.put(offset + CONTROL, 2, vectors - 1);
        enabled = false;
        functionMasked = false;
        java.util.Arrays.fill(table, 0);
        java.util.Arrays.fill(pending, 0);
        for (int v = 0; v < vectors; v++) {
            table[4 * v + 3] = ENTRY_MASKED;
            update(v, true);
        }
    }

    /** Releases the vectors (routes, irqfds, eventfds); once, with the function. */
    public void close() {
        synchronized (config) {
            if (out != null) {
                for (MsiVector v : out) {
                    v.close();
                }
                out = null;
            }
        }
    }
}
