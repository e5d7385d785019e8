package io.isthmus.vmm.pci;

import java.util.ArrayList;
import java.util.List;

/**
 * A function's configuration space as the guest sees it: 256 bytes (conventional PCI) or 4 KiB (PCI Express), with
 * QEMU's semantics for what the guest may change. Each byte has a write mask and a write-1-to-clear mask; a write
 * changes only the writable bits. As in QEMU ({@code pci_init_wmask}), the command register's I/O, memory, bus
 * master, SERR and INTx-disable bits, the cache line size, the interrupt line and every byte after the header are
 * writable unless a capability claims them; the status register's error bits clear on writing 1.
 *
 * <p>The BAR registers hold the address the guest programs, read back with the BAR's type bits; writing all ones
 * reads back the size mask ({@code ~(size - 1)}), which is how software sizes a BAR. A BAR decodes (see
 * {@link #barAddress}) while the command register's memory bit is set and its address is valid; any write that can
 * change that tells the bus, which moves the BAR's range ({@link PciBus}). Capabilities are chained from 0x40 in the
 * order they are added; {@link MsiCapability} and {@link MsixCapability} watch writes to their registers.
 *
 * <p>For a passthrough function (issue 12) the space can stand in front of the device's own ({@link Backing}): bits
 * marked emulated ({@link #emulate}) come from here, the rest from the device, and writes go to both.
 *
 * <p>Lifetime: the function's. Thread-safety: every method synchronizes on this object, which is also the lock of
 * the function's MSI and MSI-X state; the bus is told of BAR changes after the lock is released. Accesses allocate
 * nothing.
 */
public final class PciConfigSpace {
    /** The device's own configuration space behind a passthrough function's (a VFIO region). */
    public interface Backing {
        /** Reads {@code size} (1 to 4) bytes at {@code offset}, little-endian, any alignment. */
        int read(int offset, int size);

        /** Writes the low {@code size} bytes of {@code value} at {@code offset}. */
        void write(int offset, int size, int value);
    }

    /** Where a function's INTx level goes: the bus's shared line for its pin. */
    interface IntxSink {
        /** One more ({@code +1}) or one fewer ({@code -1}) function asserts the line. */
        void change(int delta);
    }

    private final int size;
    private final byte[] config;
    private final byte[] wmask;
    private final byte[] w1cmask;
    /** Bits served from {@link #config} rather than the backing; all of them without a backing. */
    private final byte[] emulated;
    private Backing backing;
    private final PciBar[] bars = new PciBar[Pci.BARS];
    private int nextCapability = Pci.HEADER_SIZE;
    private int lastCapability;
    MsiCapability msi;
    MsixCapability msix;

    private Runnable mappingsChanged = () -> { };
    private IntxSink intx = delta -> { };
    private boolean intxLevel;

    /**
     * A type 0 header with these ids, {@code size} bytes ({@link Pci#CONFIG_SIZE} or {@link Pci#EXPRESS_CONFIG_SIZE}).
     *
     * @param classCode base class, subclass and programming interface, as 0xBBSSPP
     */
    public PciConfigSpace(int size, int vendorId, int deviceId, int revision, int classCode, int subsystemVendorId,
                          int subsystemId) {
        if (size != Pci.CONFIG_SIZE && size != Pci.EXPRESS_CONFIG_SIZE) {
            throw new IllegalArgumentException("configuration space of " + size + " bytes: 256 or 4096");
        }
        this.size = size;
        this.config = new byte[size];
        this.wmask = new byte[size];
        this.w1cmask = new byte[size];
        this.emulated = new byte[size];
        java.util.Arrays.fill(emulated, (byte) 0xff);
        put(Pci.VENDOR_ID, 2, vendorId);
        put(Pci.DEVICE_ID, 2, deviceId);
        put(Pci.REVISION_ID, 1, revision);
        put(Pci.CLASS_PROG, 3, classCode);
        put(Pci.SUBSYSTEM_VENDOR_ID, 2, subsystemVendorId);
        put(Pci.SUBSYSTEM_ID, 2, subsystemId);
        putMask(wmask, Pci.COMMAND, 2, Pci.COMMAND_IO | Pci.COMMAND_MEMORY | Pci.COMMAND_MASTER | Pci.COMMAND_SERR
                | Pci.COMMAND_INTX_DISABLE);
        putMask(w1cmask, Pci.STATUS, 2, Pci.STATUS_W1C);
        wmask[Pci.CACHE_LINE_SIZE] = (byte) 0xff;
        wmask[Pci.INTERRUPT_LINE] = (byte) 0xff;
        java.util.Arrays.fill(wmask, Pci.HEADER_SIZE, size, (byte) 0xff);
    }

    /** Its size: 256 or 4096 bytes. */
    public int size() {
        return size;
    }

    // ---- building (before the function is plugged) ----

    /** Sets the interrupt pin register: 1 (INTA) to 4 (INTD), or 0 for none. */
    public synchronized void setInterruptPin(int pin) {
        if (pin < 0 || pin > 4) {
            throw new IllegalArgumentException("interrupt pin " + pin + ": 0 (none) or 1 (INTA) to 4 (INTD)");
        }
        config[Pci.INTERRUPT_PIN] = (byte) pin;
    }

    /** The interrupt pin register: 0 for none, 1 (INTA) to 4 (INTD). */
    public synchronized int interruptPin() {
        return config[Pci.INTERRUPT_PIN];
    }

    /** Declares a BAR: its register reads back its type bits, and only the bits above its size are writable. */
    public synchronized void addBar(PciBar bar) {
        int i = bar.index();
        boolean wide = bar.kind() == PciBar.Kind.MEMORY64;
        if (bars[i] != null || wide && bars[i + 1] != null || isUpperHalf(i)) {
            throw new IllegalArgumentException(bar + ": BAR register " + i + (wide ? " or " + (i + 1) : "")
                    + " is taken");
        }
        bars[i] = bar;
        int at = Pci.BAR0 + 4 * i;
        long mask = -bar.size();
        put(at, 4, bar.typeBits());
        putMask(wmask, at, 4, (int) mask & ~(bar.kind() == PciBar.Kind.IO ? 0x3 : 0xf));
        if (wide) {
            put(at + 4, 4, 0);
            putMask(wmask, at + 4, 4, (int) (mask >>> 32));
        }
    }

    private boolean isUpperHalf(int i) {
        return i > 0 && bars[i - 1] != null && bars[i - 1].kind() == PciBar.Kind.MEMORY64;
    }

    /**
     * Adds a capability of {@code length} bytes with id {@code id} at the next free offset from 0x40 (4-byte
     * aligned), chains it after the last one and sets the status register's capability bit. Its bytes are
     * read-only until the caller makes some writable ({@link #setWritable}). Returns its offset.
     */
    public synchronized int addCapability(int id, int length) {
        int at = nextCapability;
        if (length < 2 || at + length > Pci.CONFIG_SIZE) {
            throw new IllegalArgumentException(String.format("capability 0x%02x of %d bytes does not fit below 0x100"
                    + " (next free offset 0x%x)", id, length, at));
        }
        java.util.Arrays.fill(wmask, at, at + length, (byte) 0);
        java.util.Arrays.fill(config, at, at + length, (byte) 0);
        config[at] = (byte) id;
        if (lastCapability == 0) {
            config[Pci.CAPABILITY_LIST] = (byte) at;
        } else {
            config[lastCapability + 1] = (byte) at;
        }
        lastCapability = at;
        nextCapability = (at + length + 3) & ~3;
        put(Pci.STATUS, 2, get(Pci.STATUS, 2) | Pci.STATUS_CAP_LIST);
        return at;
    }

    /** Makes the bits of {@code mask} in the {@code size} bytes at {@code offset} writable by the guest. */
    public synchronized void setWritable(int offset, int size, int mask) {
        putMask(wmask, offset, size, get(wmask, offset, size) | mask);
    }

    /** Sets {@code size} bytes at {@code offset} (little-endian), whatever their masks: the device's own value. */
    public synchronized void set(int offset, int size, int value) {
        put(offset, size, value);
    }

    /**
     * Puts the device's own configuration space behind this one: from now on only the bits marked by
     * {@link #emulate} come from here (the BARs are always emulated: the guest's addresses are not the host's).
     */
    public synchronized void setBacking(Backing backing) {
        this.backing = backing;
        java.util.Arrays.fill(emulated, (byte) 0);
        for (int i = 0; i < Pci.BARS; i++) {
            putMask(emulated, Pci.BAR0 + 4 * i, 4, -1);
        }
    }

    /** Serves the bits of {@code mask} in the {@code size} bytes at {@code offset} from here, not the backing. */
    public synchronized void emulate(int offset, int size, int mask) {
        putMask(emulated, offset, size, get(emulated, offset, size) | mask);
    }

    /** Connects the function to its bus: BAR changes and INTx levels go there. */
    synchronized void connect(Runnable mappingsChanged, IntxSink intx) {
        this.mappingsChanged = mappingsChanged;
        this.intx = intx;
    }

    // ---- guest accesses ----

    /**
     * Reads {@code size} (1 to 4) bytes at {@code offset}, which the bus has checked to lie in the space; any
     * alignment, as QEMU's {@code pci_default_read_config} copies bytes.
     */
    public synchronized int read(int offset, int size) {
        int v = get(offset, size);
        if (backing != null) {
            int emu = get(emulated, offset, size);
            if (emu != mask(size)) {
                v = v & emu | backing.read(offset, size) & ~emu;
            }
        }
        return v;
    }

    /**
     * Writes the low {@code size} bytes of {@code value} at {@code offset} (in the space, any alignment): writable
     * bits change, write-1-to-clear bits clear; a passthrough function's device gets the write too. When a BAR or the
     * command register changed, the bus re-places the function's BARs once this returns.
     */
    public void write(int offset, int size, int value) {
        boolean remap;
        synchronized (this) {
            int command = get(Pci.COMMAND, 2);
            if (backing != null && get(emulated, offset, size) != mask(size)) {
                backing.write(offset, size, value);
            }
            for (int i = 0; i < size; i++) {
                int at = offset + i;
                int b = value >>> (8 * i) & 0xff;
                config[at] = (byte) (config[at] & ~wmask[at] | b & wmask[at] & 0xff);
                config[at] &= (byte) ~(b & w1cmask[at]);
            }
            remap = overlaps(offset, size, Pci.BAR0, 4 * Pci.BARS) || overlaps(offset, size, Pci.COMMAND, 1);
            if (overlaps(offset, size, Pci.COMMAND, 2)) {
                boolean was = (command & Pci.COMMAND_INTX_DISABLE) != 0, is = intxDisabled();
                if (was != is && intxLevel) {
                    intx.change(is ? -1 : 1);
                }
            }
            if (msi != null) {
                msi.configWritten(offset, size);
            }
            if (msix != null) {
                msix.configWritten(offset, size);
            }
        }
        if (remap) {
            mappingsChanged.run();
        }
    }

    // ---- BARs ----

    /** The BAR declared at register {@code index}, or null (none, or the upper half of a 64-bit BAR). */
    public synchronized PciBar bar(int index) {
        return bars[index];
    }

    /** The declared BARs, lowest register first. */
    public synchronized List<PciBar> bars() {
        List<PciBar> out = new ArrayList<>();
        for (PciBar b : bars) {
            if (b != null) {
                out.add(b);
            }
        }
        return out;
    }

    /**
     * Where BAR {@code index} decodes now, or -1 when it does not, by QEMU's rules ({@code pci_bar_address}): the
     * command register's memory bit is set, the address is not 0, the range does not wrap, and a 32-bit BAR's
     * range lies below 4 GiB. I/O BARs never decode (the bus has no I/O window).
     */
    public synchronized long barAddress(int index) {
        PciBar bar = bars[index];
        if (bar == null || bar.kind() == PciBar.Kind.IO || (get(Pci.COMMAND, 2) & Pci.COMMAND_MEMORY) == 0) {
            return -1;
        }
        int at = Pci.BAR0 + 4 * index;
        long address = get(at, 4) & 0xffffffffL;
        if (bar.kind() == PciBar.Kind.MEMORY64) {
            address |= (get(at + 4, 4) & 0xffffffffL) << 32;
        }
        address &= -bar.size();
        long last = address + bar.size() - 1;
        if (address == 0 || Long.compareUnsigned(last, address) <= 0 || last == -1L
                || bar.kind() == PciBar.Kind.MEMORY32 && Long.compareUnsigned(last, 0xffffffffL) >= 0) {
            return -1;
        }
        return address;
    }

    // ---- INTx ----

    /**
     * Sets the function's INTx level (its interrupt pin, {@link #setInterruptPin}): the status register's
     * interrupt bit follows it, and the bus's line too unless the command register's INTx-disable bit is set.
     */
    public synchronized void setIntx(boolean level) {
        if (level == intxLevel) {
            return;
        }
        intxLevel = level;
        put(Pci.STATUS, 2, get(Pci.STATUS, 2) & ~Pci.STATUS_INTERRUPT | (level ? Pci.STATUS_INTERRUPT : 0));
        if (!intxDisabled()) {
            intx.change(level ? 1 : -1);
        }
    }

    private boolean intxDisabled() {
        return (get(Pci.COMMAND, 2) & Pci.COMMAND_INTX_DISABLE) != 0;
    }

    /** Whether the MSI or MSI-X capability is enabled, when a function must not use INTx. */
    synchronized boolean messageSignalled() {
        return msi != null && msi.enabled() || msix != null && msix.enabled();
    }

    // ---- reset ----

    /**
     * The PCI reset, as QEMU's {@code pci_do_device_reset}: INTx deasserted, the command register's and status
     * register's writable bits cleared, cache line size and interrupt line 0, every BAR back to address 0, MSI and
     * MSI-X disabled with their state cleared. The bus re-places the BARs after it.
     */
    public synchronized void reset() {
        setIntx(false);
        put(Pci.COMMAND, 2, get(Pci.COMMAND, 2) & ~(get(wmask, Pci.COMMAND, 2) | get(w1cmask, Pci.COMMAND, 2)));
        put(Pci.STATUS, 2, get(Pci.STATUS, 2) & ~(get(wmask, Pci.STATUS, 2) | get(w1cmask, Pci.STATUS, 2)));
        config[Pci.CACHE_LINE_SIZE] = 0;
        config[Pci.INTERRUPT_LINE] = 0;
        for (PciBar b : bars) {
            if (b != null) {
                int at = Pci.BAR0 + 4 * b.index();
                put(at, 4, b.typeBits());
                if (b.kind() == PciBar.Kind.MEMORY64) {
                    put(at + 4, 4, 0);
                }
            }
        }
        if (msi != null) {
            msi.reset();
        }
        if (msix != null) {
            msix.reset();
        }
    }

    // ---- bytes ----

    /** The {@code size} bytes at {@code offset} of the emulated space, little-endian. Caller holds the lock. */
    int get(int offset, int size) {
        return get(config, offset, size);
    }

    /** Sets bytes of the emulated space. Caller holds the lock. */
    void put(int offset, int size, int value) {
        putMask(config, offset, size, value);
    }

    private static int get(byte[] b, int offset, int size) {
        int v = 0;
        for (int i = 0; i < size; i++) {
            v |= (b[offset + i] & 0xff) << (8 * i);
        }
        return v;
    }

    private static void putMask(byte[] b, int offset, int size, int value) {
        for (int i = 0; i < size; i++) {
            b[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    private static int mask(int size) {
        return size >= 4 ? -1 : (1 << (8 * size)) - 1;
    }

    private static boolean overlaps(int offset, int size, int start, int length) {
        return offset < start + length && start < offset + size;
    }
}
