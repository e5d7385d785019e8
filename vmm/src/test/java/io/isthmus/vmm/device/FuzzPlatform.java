package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.memory.GuestMemory;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Map.Entry;
import java.util.TreeMap;

/**
 * A {@link Platform} for driving plugged devices without a machine: it records what each device registers (refusing
 * overlaps, as the machine's buses do), dispatches port and MMIO accesses by absolute address the way the exit
 * dispatcher does (offset from the range's base; unassigned addresses read all ones and ignore writes), hands out
 * interrupt lines that check they only ever change level, and records exits and resets asked of the machine.
 * The fuzz targets plug a device exactly as {@code MachineBuilder} does and then act as the guest.
 *
 * <p>Lifetime: one fuzz input. Not thread-safe (a fuzz input is one vCPU).
 */
final class FuzzPlatform implements Platform {
    private record Range(long base, long length, BusDevice device, String name) {}

    /** An interrupt line that checks it only ever changes level: devices raise on edges of their own state. */
    static final class EdgeLine implements IrqLine {
        private final String name;
        private boolean level;
        long edges;

        EdgeLine(String name) {
            this.name = name;
        }

        @Override
        public void set(boolean l) {
            if (l == level) {
                throw new AssertionError(name + " set to " + l + " twice in a row");
            }
            level = l;
            edges++;
        }

        boolean level() {
            return level;
        }
    }

    private final TreeMap<Long, Range> pio = new TreeMap<>(), mmio = new TreeMap<>();
    private final Map<String, EdgeLine> lines = new HashMap<>();
    /** Exit statuses and reset reasons the devices asked for, in order. */
    final List<Integer> exits = new ArrayList<>();
    final List<String> resets = new ArrayList<>();
    private final MachineControl control = new MachineControl() {
        @Override
        public void exit(int status, String why) {
            if (why == null || why.isEmpty()) {
                throw new AssertionError("an exit without a reason");
            }
            exits.add(status);
        }

        @Override
        public void reset(String why) {
            if (why == null || why.isEmpty()) {
                throw new AssertionError("a reset without a reason");
            }
            resets.add(why);
        }
    };

    private static void insert(TreeMap<Long, Range> bus, Range r) {
        if (r.length <= 0 || r.base < 0) {
            throw new IllegalArgumentException(r.name + ": bad range " + r.base + "+" + r.length);
        }
        Entry<Long, Range> below = bus.floorEntry(r.base + r.length - 1);
        if (below != null && below.getValue().base + below.getValue().length > r.base) {
            throw new IllegalStateException(r.name + " overlaps " + below.getValue().name);
        }
        bus.put(r.base, r);
    }

    private static Range find(TreeMap<Long, Range> bus, long address) {
        Entry<Long, Range> e = bus.floorEntry(address);
        return e != null && address - e.getKey() < e.getValue().length ? e.getValue() : null;
    }

    @Override
    public void pio(long base, long length, BusDevice device, String name) {
        insert(pio, new Range(base, length, device, name));
    }

    @Override
    public void mmio(long base, long length, BusDevice device, String name) {
        insert(mmio, new Range(base, length, device, name));
    }

    @Override
    public long allocateMmio(long length, long alignment, long from, long to, BusDevice device, String name) {
        for (long base = (from + alignment - 1) / alignment * alignment; base + length <= to; base += alignment) {
            Range r = new Range(base, length, device, name);
            Entry<Long, Range> below = mmio.floorEntry(base + length - 1);
            if (below == null || below.getValue().base + below.getValue().length <= base) {
                mmio.put(base, r);
                return base;
            }
        }
        throw new IllegalStateException(name + ": no free MMIO range");
    }

    @Override
    public IrqLine isaIrq(int irq) {
        return lines.computeIfAbsent("ISA IRQ " + irq, EdgeLine::new);
    }

    @Override
    public IrqLine gsi(int gsi) {
        return lines.computeIfAbsent("GSI " + gsi, EdgeLine::new);
    }

    @Override
    public GuestMemory memory() {
        throw new UnsupportedOperationException("these device models use no guest RAM");
    }

    @Override
    public MachineControl control() {
        return control;
    }

    EdgeLine line(String name) {
        return lines.get(name);
    }

    /** The registered port ranges' bases, for picking a target. */
    long[] portBases() {
        return pio.keySet().stream().mapToLong(Long::longValue).toArray();
    }

    long[] mmioBases() {
        return mmio.keySet().stream().mapToLong(Long::longValue).toArray();
    }

    long pioLength(long base) {
        return pio.get(base).length;
    }

    long mmioLength(long base) {
        return mmio.get(base).length;
    }

    /** A guest IN: the device's answer, or all ones where nothing is plugged. */
    long in(long port, int size) {
        Range r = find(pio, port);
        return r == null ? (1L << (8 * size)) - 1 : r.device.read(port - r.base, size);
    }

    /** A guest OUT. */
    void out(long port, int size, long value) {
        Range r = find(pio, port);
        if (r != null) {
            r.device.write(port - r.base, size, value);
        }
    }

    /** A guest MMIO read: the device's answer, or all ones. */
    long read(long address, int size) {
        Range r = find(mmio, address);
        return r == null ? (size == 8 ? -1L : (1L << (8 * size)) - 1) : r.device.read(address - r.base, size);
    }

    void write(long address, int size, long value) {
        Range r = find(mmio, address);
        if (r != null) {
            r.device.write(address - r.base, size, value);
        }
    }
}
