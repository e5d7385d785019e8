package io.isthmus.vmm.pci;

import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.bus.MmioBus;
import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.vmm.device.IrqLine;

import java.util.ArrayList;
import java.util.List;

/**
 * PCI bus 0 of a host bridge: up to 256 functions by device and function number, their configuration spaces as the
 * host bridge's ECAM reaches them, their BARs placed in the bridge's memory windows as the guest programs them, and
 * their INTx pins on four shared lines.
 *
 * <p>BAR placement follows the guest, as on QEMU's microvm, whose firmware does not enumerate PCI: every BAR starts
 * at address 0 (not decoding), and the guest (Linux, or a test guest) sizes it and writes an address from the
 * windows the DSDT lists. On every write to a BAR register or the command register the bus recomputes where each
 * BAR decodes ({@link PciConfigSpace#barAddress}) and moves what changed: a BAR decodes only wholly inside one
 * window (the windows are the CPU's only view of PCI memory space, as QEMU's aliases of it) and only where no BAR of
 * a lower device/function or register already decodes; the BAR's {@link BarMapper} is unmapped from the old range
 * and mapped at the new one. An emulated BAR's mapper inserts its device into {@link #memorySpace()}, which the
 * host bridge's windows dispatch to.
 *
 * <p>INTx: pin {@code p} (1-4) of device {@code d} drives line {@code (d + p - 1) % 4}, the host bridge's swizzle
 * (the DSDT's {@code _PRT}); a line is high while any function drives it (QEMU's {@code irq_count}).
 *
 * <p>Lifetime: the machine's. Threading: {@link #add} and {@link #plug} while the machine is built; configuration
 * accesses on vCPU threads, concurrently (each function's space has its own lock); placement under this bus's lock,
 * taken after a function's configuration lock is released (lock order: bus, then configuration space, then the
 * memory space's own).
 */
public final class PciBus {
    /** A range of guest-physical addresses where the CPU sees PCI memory space 1:1. */
    public record Window(String name, long base, long size) {
        boolean holds(long address, long length) {
            return Long.compareUnsigned(address, base) >= 0 && Long.compareUnsigned(length, size) <= 0
                    && Long.compareUnsigned(address - base, size - length) <= 0;
        }
    }

    private final List<Window> windows;
    private final MsiRouter msi;
    private final MmioBus memorySpace = new MmioBus();
    private final PciFunction[] functions = new PciFunction[Pci.DEVFNS];
    /** Per function and BAR register: the mapper, where it is mapped now (-1: not), and scratch for placement. */
    private final BarMapper[][] mappers = new BarMapper[Pci.DEVFNS][];
    private final long[][] mapped = new long[Pci.DEVFNS][];
    private final long[][] wanted = new long[Pci.DEVFNS][];
    private final IntxLine[] intx = new IntxLine[4];
    private boolean plugged;

    /** A bus whose BARs may decode in {@code windows}, its functions' vectors from {@code msi}. */
    public PciBus(List<Window> windows, MsiRouter msi) {
        this.windows = List.copyOf(windows);
        this.msi = msi;
        for (int i = 0; i < intx.length; i++) {
            intx[i] = new IntxLine();
        }
    }

    /**
     * Puts {@code function} at {@code devfn}, or with {@code devfn} -1 at function 0 of the first free device (as
     * QEMU assigns {@code -device} addresses); returns its devfn. A function other than 0 makes function 0 of its
     * device multi-function.
     *
     * @throws IllegalArgumentException when the address is taken or out of range, or a BAR cannot fit any window
     */
    public synchronized int add(int devfn, PciFunction function) {
        if (plugged) {
            throw new IllegalStateException("the PCI bus is plugged in; functions are added before");
        }
        if (devfn < 0) {
            for (int d = 0; d < Pci.DEVFNS && devfn < 0; d += 8) {
                if (functions[d] == null) {
                    devfn = d;
                }
            }
            if (devfn < 0) {
                throw new IllegalArgumentException("PCI: no slot/function available for " + function.name()
                        + ", all in use");
            }
        } else if (devfn >= Pci.DEVFNS) {
            throw new IllegalArgumentException("PCI: devfn " + devfn + " for " + function.name() + ": 0 to 255");
        } else if (functions[devfn] != null) {
            throw new IllegalArgumentException(String.format("PCI: slot %d function %d not available for %s, in use"
                    + " by %s", devfn >> 3, devfn & 7, function.name(), functions[devfn].name()));
        }
        for (PciBar b : function.config().bars()) {
            if (b.kind() != PciBar.Kind.IO && windows.stream().noneMatch(w -> fits(b, w))) {
                throw new IllegalArgumentException(String.format("%s: %s fits no window of the PCI host bridge (%s)",
                        function.name(), b, describeWindows()));
            }
        }
        functions[devfn] = function;
        mappers[devfn] = new BarMapper[Pci.BARS];
        mapped[devfn] = new long[Pci.BARS];
        wanted[devfn] = new long[Pci.BARS];
        java.util.Arrays.fill(mapped[devfn], -1);
        for (PciBar b : function.config().bars()) {
            mappers[devfn][b.index()] = b.mapper() != null ? b.mapper()
                    : new DeviceMapper(b.device(), b.size(), function.name() + " BAR" + b.index());
        }
        if ((devfn & 7) != 0 && functions[devfn & ~7] != null) {
            multiFunction(functions[devfn & ~7]);
        } else if ((devfn & 7) == 0) {
            for (int f = 1; f < 8; f++) {
                if (functions[devfn + f] != null) {
                    multiFunction(function);
                    break;
                }
            }
        }
        return devfn;
    }

    private static void multiFunction(PciFunction f) {
        PciConfigSpace c = f.config();
        synchronized (c) {
            c.put(Pci.HEADER_TYPE, 1, c.get(Pci.HEADER_TYPE, 1) | Pci.HEADER_TYPE_MULTI_FUNCTION);
        }
    }

    private static boolean fits(PciBar b, Window w) {
        return b.size() <= w.size() && (b.kind() == PciBar.Kind.MEMORY64
                || Long.compareUnsigned(w.base() + w.size() - 1, 0xffffffffL) <= 0);
    }

    private String describeWindows() {
        List<String> s = new ArrayList<>();
        for (Window w : windows) {
            s.add(String.format("%s 0x%x bytes at 0x%x", w.name(), w.size(), w.base()));
        }
        return String.join(", ", s);
    }

    /**
     * Connects the bus to the machine: INTx lines A-D to {@code lines}, and every function attached (its vectors
     * taken from the MSI router) at its address.
     */
    public synchronized void plug(IrqLine[] lines, GuestMemory memory) {
        if (lines.length != intx.length) {
            throw new IllegalArgumentException("a PCI bus has 4 INTx lines, not " + lines.length);
        }
        plugged = true;
        for (int i = 0; i < intx.length; i++) {
            intx[i].out = lines[i];
        }
        for (int devfn = 0; devfn < Pci.DEVFNS; devfn++) {
            PciFunction f = functions[devfn];
            if (f == null) {
                continue;
            }
            int pin = f.config().interruptPin();
            IntxLine line = pin == 0 ? null : intx[((devfn >> 3) + pin - 1) % 4];
            f.config().connect(this::place, line == null ? delta -> { } : line::change);
            f.attach(new PciSlot(devfn, msi, memory, memorySpace));
        }
    }

    /** The function at {@code devfn}, or null. */
    public PciFunction function(int devfn) {
        return functions[devfn];
    }

    /** The bus's memory space: what its BARs decode, by guest-physical address. */
    public MmioBus memorySpace() {
        return memorySpace;
    }

    // ---- configuration accesses (from the host bridge's ECAM) ----

    /**
     * The function the guest reaches at {@code devfn}, or null: a function other than 0 is visible only when its
     * device has function 0, as QEMU hides it.
     */
    PciFunction visible(int devfn) {
        PciFunction f = functions[devfn];
        return f == null || (devfn & 7) != 0 && functions[devfn & ~7] == null ? null : f;
    }

    // ---- BAR placement ----

    /** Recomputes where every BAR decodes and moves what changed; see the class comment. */
    synchronized void place() {
        for (int devfn = 0; devfn < Pci.DEVFNS; devfn++) {
            PciFunction f = functions[devfn];
            if (f == null) {
                continue;
            }
            PciConfigSpace c = f.config();
            for (int i = 0; i < Pci.BARS; i++) {
                PciBar b = c.bar(i);
                long at = b == null ? -1 : c.barAddress(i);
                if (at != -1 && (!inWindow(at, b.size()) || overlapsWanted(devfn, i, at, b.size()))) {
                    at = -1;
                }
                wanted[devfn][i] = at;
            }
        }
        for (int devfn = 0; devfn < Pci.DEVFNS; devfn++) {
            if (functions[devfn] != null) {
                for (int i = 0; i < Pci.BARS; i++) {
                    if (mapped[devfn][i] != -1 && mapped[devfn][i] != wanted[devfn][i]) {
                        mappers[devfn][i].unmap();
                        mapped[devfn][i] = -1;
                    }
                }
            }
        }
        for (int devfn = 0; devfn < Pci.DEVFNS; devfn++) {
            if (functions[devfn] != null) {
                for (int i = 0; i < Pci.BARS; i++) {
                    if (wanted[devfn][i] != -1 && mapped[devfn][i] == -1) {
                        mappers[devfn][i].map(wanted[devfn][i]);
                        mapped[devfn][i] = wanted[devfn][i];
                    }
                }
            }
        }
    }

    private boolean inWindow(long address, long size) {
        for (Window w : windows) {
            if (w.holds(address, size)) {
                return true;
            }
        }
        return false;
    }

    /** Whether [at, at + size) overlaps a BAR placed before (devfn, bar) in this pass. */
    private boolean overlapsWanted(int devfn, int bar, long at, long size) {
        for (int d = 0; d <= devfn; d++) {
            if (functions[d] == null) {
                continue;
            }
            PciConfigSpace c = functions[d].config();
            for (int i = 0; i < (d == devfn ? bar : Pci.BARS); i++) {
                long w = wanted[d][i];
                if (w != -1 && Long.compareUnsigned(at, w + c.bar(i).size()) < 0
                        && Long.compareUnsigned(w, at + size) < 0) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Where BAR {@code bar} of the function at {@code devfn} decodes now, or -1. */
    public synchronized long mappedAt(int devfn, int bar) {
        return mapped[devfn] == null ? -1 : mapped[devfn][bar];
    }

    // ---- reset and close ----

    /** A system reset: each function's own reset, then its PCI reset; no BAR decodes afterwards. */
    public void reset() {
        for (PciFunction f : functions) {
            if (f != null) {
                f.reset();
                f.config().reset();
            }
        }
        place();
    }

    /** Unmaps every BAR and closes every function, last devfn first. */
    public synchronized void close() {
        for (int devfn = Pci.DEVFNS - 1; devfn >= 0; devfn--) {
            PciFunction f = functions[devfn];
            if (f == null) {
                continue;
            }
            for (int i = 0; i < Pci.BARS; i++) {
                if (mapped[devfn][i] != -1) {
                    mappers[devfn][i].unmap();
                    mapped[devfn][i] = -1;
                }
            }
            f.close();
        }
    }

    /** An emulated BAR: its device on the bus's memory space while it decodes. */
    private final class DeviceMapper implements BarMapper {
        private final BusDevice device;
        private final long size;
        private final String name;
        private long at = -1;

        DeviceMapper(BusDevice device, long size, String name) {
            this.device = device;
            this.size = size;
            this.name = name;
        }

        @Override
        public void map(long address) {
            memorySpace.insert(address, size, device, name);
            at = address;
        }

        @Override
        public void unmap() {
            memorySpace.remove(at);
            at = -1;
        }
    }

    /** One of the four INTx lines: high while any function drives it. */
    private static final class IntxLine {
        private IrqLine out = IrqLine.NONE;
        private int count;

        synchronized void change(int delta) {
            int was = count;
            count = Math.max(0, count + delta);
            if ((was == 0) != (count == 0)) {
                out.set(count != 0);
            }
        }
    }
}
