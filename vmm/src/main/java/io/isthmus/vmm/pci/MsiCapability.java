package io.isthmus.vmm.pci;

/**
 * An MSI capability (PCI 3.0 §6.8.1) with 64-bit addresses and per-vector masking, 24 bytes: message control (the
 * enable bit and Multiple Message Enable writable; Multiple Message Capable, 64-bit and per-vector-mask bits
 * read-only), message address (low and high), message data (16 bits), mask bits and pending bits (read-only).
 *
 * <p>With {@code 2^k} vectors enabled (MME), vector {@code i}'s message is the programmed address with the data's
 * low {@code k} bits replaced by {@code i}. Each vector has an {@link MsiVector}: while MSI is enabled and the
 * vector is enabled and unmasked, its KVM route is its message; a masked vector's interrupts set its pending bit
 * and are delivered when it is unmasked. Writing an MME above MMC enables MMC's count, as QEMU's
 * {@code msi_write_config} does.
 *
 * <p>Lifetime: the function's; {@link #close()} releases the vectors. Thread-safety: guarded by the configuration
 * space's lock; {@link #notify} allocates nothing.
 */
public final class MsiCapability {
    /** The most vectors MSI offers. */
    public static final int MAX_VECTORS = 32;
    private static final int LENGTH = 0x18, CONTROL = 2, ADDRESS_LO = 4, ADDRESS_HI = 8, DATA = 0xc, MASK = 0x10;
    private static final int PENDING = 0x14;
    private static final int CONTROL_ENABLE = 0x1, CONTROL_MMC_SHIFT = 1, CONTROL_MME_SHIFT = 4;
    private static final int CONTROL_64BIT = 0x80, CONTROL_MASKABLE = 0x100;

    private final PciConfigSpace config;
    private final int offset;
    private final int vectors;
    private final int log2;
    private final boolean[] routed;
    private MsiVector[] out;

    private MsiCapability(PciConfigSpace config, int offset, int vectors) {
        this.config = config;
        this.offset = offset;
        this.vectors = vectors;
        this.log2 = Integer.numberOfTrailingZeros(vectors);
        this.routed = new boolean[vectors];
    }

    /** Adds an MSI capability offering {@code vectors} (1, 2, 4, 8, 16 or 32) to {@code config}. */
    public static MsiCapability add(PciConfigSpace config, int vectors) {
        if (Integer.bitCount(vectors) != 1 || vectors > MAX_VECTORS) {
            throw new IllegalArgumentException("MSI with " + vectors + " vectors: a power of two up to 32");
        }
        synchronized (config) {
            if (config.msi != null) {
                throw new IllegalArgumentException("the function already has an MSI capability");
            }
            int at = config.addCapability(Pci.CAP_ID_MSI, LENGTH);
            MsiCapability c = new MsiCapability(config, at, vectors);
            config.put(at + CONTROL, 2, c.log2 << CONTROL_MMC_SHIFT | CONTROL_64BIT | CONTROL_MASKABLE);
            config.setWritable(at + CONTROL, 2, CONTROL_ENABLE | 0x7 << CONTROL_MME_SHIFT);
            config.setWritable(at + ADDRESS_LO, 4, ~3);
            config.setWritable(at + ADDRESS_HI, 4, -1);
            config.setWritable(at + DATA, 2, 0xffff);
            config.setWritable(at + MASK, 4, vectors == 32 ? -1 : (1 << vectors) - 1);
            config.msi = c;
            return c;
        }
    }

    /** Takes a vector from {@code router} for each message the capability offers; when the function is attached. */
    public void attach(MsiRouter router, String owner) {
        synchronized (config) {
            if (out != null) {
                throw new IllegalStateException("MSI vectors of " + owner + " are already allocated");
            }
            out = router.allocate(vectors, owner + " MSI");
        }
    }

    /** The capability's offset in configuration space. */
    public int offset() {
        return offset;
    }

    /** Vectors offered (Multiple Message Capable). */
    public int vectors() {
        return vectors;
    }

    /** Whether the guest enabled MSI. */
    public boolean enabled() {
        synchronized (config) {
            return (config.get(offset + CONTROL, 2) & CONTROL_ENABLE) != 0;
        }
    }

    /** Vectors the guest enabled: 2^MME, at most {@link #vectors()}. */
    public int enabledVectors() {
        synchronized (config) {
            return enabledCount();
        }
    }

    /** Whether vector {@code v}'s pending bit is set. */
    public boolean pending(int v) {
        synchronized (config) {
            return (config.get(offset + PENDING, 4) & 1 << v) != 0;
        }
    }

    /**
     * The device raises vector {@code v}: delivered when MSI is enabled and the vector unmasked, pending while it is
     * masked; dropped while MSI is off or for a vector the guest did not enable.
     */
    public void notify(int v) {
        synchronized (config) {
            if (v < 0 || v >= enabledCount() || (config.get(offset + CONTROL, 2) & CONTROL_ENABLE) == 0) {
                return;
            }
            if ((config.get(offset + MASK, 4) & 1 << v) != 0) {
                config.put(offset + PENDING, 4, config.get(offset + PENDING, 4) | 1 << v);
            } else if (out != null) {
                out[v].trigger();
            }
        }
    }

    private int enabledCount() {
        int mme = config.get(offset + CONTROL, 2) >> CONTROL_MME_SHIFT & 7;
        return 1 << Math.min(mme, log2);
    }

    /** After a configuration write: clamps MME, then brings every vector's route in line; delivers on unmasking. */
    void configWritten(int at, int size) {
        if (at >= offset + LENGTH || at + size <= offset) {
            return;
        }
        int control = config.get(offset + CONTROL, 2);
        if ((control >> CONTROL_MME_SHIFT & 7) > log2) {
            control = control & ~(7 << CONTROL_MME_SHIFT) | log2 << CONTROL_MME_SHIFT;
            config.put(offset + CONTROL, 2, control);
        }
        boolean on = (control & CONTROL_ENABLE) != 0;
        if (on) {
            config.setIntx(false); // as QEMU: a function using MSI does not assert INTx
        }
        if (out == null) {
            return;
        }
        int count = enabledCount();
        long address = config.get(offset + ADDRESS_LO, 4) & 0xffffffffL
                | (config.get(offset + ADDRESS_HI, 4) & 0xffffffffL) << 32;
        int data = config.get(offset + DATA, 2);
        int mask = config.get(offset + MASK, 4);
        for (int v = 0; v < vectors; v++) {
            if (on && v < count && (mask & 1 << v) == 0) {
                out[v].route(address, data & ~(count - 1) | v);
                routed[v] = true;
                int pend = config.get(offset + PENDING, 4);
                if ((pend & 1 << v) != 0) {
                    config.put(offset + PENDING, 4, pend & ~(1 << v));
                    out[v].trigger();
                }
            } else if (routed[v]) {
                out[v].unroute();
                routed[v] = false;
            }
        }
    }

    /** QEMU's {@code msi_reset}: disabled, one vector enabled, address, data, masks and pending bits zero. */
    void reset() {
        config.put(offset + CONTROL, 2, log2 << CONTROL_MMC_SHIFT | CONTROL_64BIT | CONTROL_MASKABLE);
        for (int r = ADDRESS_LO; r < LENGTH; r += 4) {
            config.put(offset + r, 4, 0);
        }
        for (int v = 0; v < vectors; v++) {
            if (routed[v]) {
                out[v].unroute();
                routed[v] = false;
            }
        }
    }

    /** Releases the vectors; once, with the function. */
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
