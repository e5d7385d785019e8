package io.isthmus.kvm.bus;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An address space of device ranges: {@code [base, base + length)} → {@link BusDevice}. Ranges never overlap;
 * {@link #insert} rejects one that would.
 *
 * <p>Lookups are lock-free and allocate nothing: the table is an immutable set of sorted arrays, replaced whole
 * (copy-on-write) under this bus's monitor when a range is inserted or removed, and read through a volatile
 * field. So a vCPU thread dispatching an exit never blocks on a configuration change; it sees the table before or
 * after it. Lock order: the bus monitor is a leaf; no device method is ever called while holding it.
 *
 * <p>An access that hits no device reads as all ones and its writes are dropped, as on a PC's open bus; each is
 * counted ({@link #unhandled()}).
 */
public abstract sealed class Bus permits PioBus, MmioBus {
    /** The devices and their ranges, sorted by base. Immutable once published. */
    private record Table(long[] bases, long[] ends, BusDevice[] devices, String[] names) {}

    private volatile Table table = new Table(new long[0], new long[0], new BusDevice[0], new String[0]);
    private final AtomicLong unhandled = new AtomicLong();
    private final String kind;
    private final long limit;

    Bus(String kind, long limit) {
        this.kind = kind;
        this.limit = limit;
    }

    /**
     * Puts {@code device} at {@code [base, base + length)}.
     *
     * @throws BusOverlapException when the range overlaps another device's, is empty or leaves the bus
     */
    public synchronized void insert(long base, long length, BusDevice device, String name) {
        if (length <= 0 || Long.compareUnsigned(base + length - 1, base) < 0
                || (limit != 0 && Long.compareUnsigned(base + length - 1, limit) > 0)) {
            throw new BusOverlapException(String.format("%s range 0x%x+0x%x for %s is empty or leaves the bus",
                    kind, base, length, name));
        }
        Table t = table;
        int n = t.bases.length;
        int at = 0;
        while (at < n && Long.compareUnsigned(t.bases[at], base) < 0) {
            at++;
        }
        long end = base + length; // exclusive; 0 means 2^64
        if (at > 0 && Long.compareUnsigned(t.ends[at - 1] - 1, base) >= 0) {
            throw overlap(base, end, name, t, at - 1);
        }
        if (at < n && Long.compareUnsigned(end - 1, t.bases[at]) >= 0) {
            throw overlap(base, end, name, t, at);
        }
        long[] bases = new long[n + 1], ends = new long[n + 1];
        BusDevice[] devices = new BusDevice[n + 1];
        String[] names = new String[n + 1];
        System.arraycopy(t.bases, 0, bases, 0, at);
        System.arraycopy(t.ends, 0, ends, 0, at);
        System.arraycopy(t.devices, 0, devices, 0, at);
        System.arraycopy(t.names, 0, names, 0, at);
        bases[at] = base;
        ends[at] = end;
        devices[at] = device;
        names[at] = name;
        System.arraycopy(t.bases, at, bases, at + 1, n - at);
        System.arraycopy(t.ends, at, ends, at + 1, n - at);
        System.arraycopy(t.devices, at, devices, at + 1, n - at);
        System.arraycopy(t.names, at, names, at + 1, n - at);
        table = new Table(bases, ends, devices, names);
    }

    private BusOverlapException overlap(long base, long end, String name, Table t, int i) {
        return new BusOverlapException(String.format(
                "%s range [0x%x-0x%x) for %s overlaps [0x%x-0x%x) of %s; pick a free range", kind, base, end, name,
                t.bases[i], t.ends[i], t.names[i]));
    }

    /**
     * Puts {@code device} at the lowest free range of {@code length} bytes, aligned to {@code alignment} (a power of
     * two), within {@code [from, to)}; returns its base. The bus knows what is taken, so callers need no list of
     * their own.
     *
     * @throws BusOverlapException when no such range is free
     */
    public synchronized long allocate(long length, long alignment, long from, long to, BusDevice device,
                                      String name) {
        if (length <= 0 || alignment <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException(String.format("allocation of 0x%x bytes aligned to 0x%x for %s: the"
                    + " length must be positive and the alignment a power of two", length, alignment, name));
        }
        for (long[] gap : gaps(from, to)) {
            long base = (gap[0] + alignment - 1) & -alignment;
            if (Long.compareUnsigned(base, gap[0]) >= 0 && Long.compareUnsigned(base + length, gap[1]) <= 0
                    && Long.compareUnsigned(base + length, base) > 0) {
                insert(base, length, device, name);
                return base;
            }
        }
        throw new BusOverlapException(String.format("no free %s range of 0x%x bytes aligned to 0x%x in [0x%x-0x%x)"
                + " for %s", kind, length, alignment, from, to, name));
    }

    /**
     * The free ranges within {@code [from, to)}, in address order, each as {@code {base, end}} (end exclusive).
     */
    public List<long[]> gaps(long from, long to) {
        Table t = table;
        List<long[]> out = new ArrayList<>();
        long at = from;
        for (int i = 0; i < t.bases.length; i++) {
            long base = t.bases[i], end = t.ends[i];
            if (Long.compareUnsigned(end, at) <= 0 && end != 0) {
                continue;
            }
            if (Long.compareUnsigned(base, to) >= 0) {
                break;
            }
            if (Long.compareUnsigned(base, at) > 0) {
                out.add(new long[] {at, base});
            }
            if (end == 0) {
                return out; // the range runs to the top of the address space
            }
            at = Long.compareUnsigned(end, at) > 0 ? end : at;
        }
        if (Long.compareUnsigned(at, to) < 0) {
            out.add(new long[] {at, to});
        }
        return out;
    }

    /** Removes the device inserted at exactly {@code base}; returns whether there was one. */
    public synchronized boolean remove(long base) {
        Table t = table;
        for (int i = 0; i < t.bases.length; i++) {
            if (t.bases[i] == base) {
                int n = t.bases.length;
                long[] bases = new long[n - 1], ends = new long[n - 1];
                BusDevice[] devices = new BusDevice[n - 1];
                String[] names = new String[n - 1];
                for (int j = 0, k = 0; j < n; j++) {
                    if (j != i) {
                        bases[k] = t.bases[j];
                        ends[k] = t.ends[j];
                        devices[k] = t.devices[j];
                        names[k++] = t.names[j];
                    }
                }
                table = new Table(bases, ends, devices, names);
                return true;
            }
        }
        return false;
    }

    /** Index of the range holding {@code address} in {@code t}, or -1. Binary search; allocation-free. */
    private static int find(Table t, long address) {
        long[] bases = t.bases;
        int lo = 0, hi = bases.length - 1, hit = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(bases[mid], address) <= 0) {
                hit = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        if (hit >= 0 && Long.compareUnsigned(address - bases[hit], t.ends[hit] - bases[hit]) < 0) {
            return hit;
        }
        return -1;
    }

    /** The device whose range holds {@code address}, or {@code null}. */
    public BusDevice deviceAt(long address) {
        Table t = table;
        int i = find(t, address);
        return i < 0 ? null : t.devices[i];
    }

    /**
     * Dispatches a guest read of {@code size} bytes at {@code address}: the device's value masked to
     * {@code size} bytes, or all ones when no device is there.
     */
    public long read(long address, int size) {
        Table t = table;
        int i = find(t, address);
        long mask = size >= 8 ? -1L : (1L << (size * 8)) - 1;
        if (i < 0) {
            unhandled.incrementAndGet();
            return mask;
        }
        return t.devices[i].read(address - t.bases[i], size) & mask;
    }

    /** Dispatches a guest write; returns whether a device took it. */
    public boolean write(long address, int size, long value) {
        Table t = table;
        int i = find(t, address);
        if (i < 0) {
            unhandled.incrementAndGet();
            return false;
        }
        t.devices[i].write(address - t.bases[i], size, value);
        return true;
    }

    /** How many accesses hit no device. */
    public long unhandled() {
        return unhandled.get();
    }

    /** The ranges on the bus, for diagnostics: "[0x3f8-0x400) serial", … */
    public List<String> describe() {
        Table t = table;
        List<String> out = new ArrayList<>();
        for (int i = 0; i < t.bases.length; i++) {
            out.add(String.format("[0x%x-0x%x) %s", t.bases[i], t.ends[i], t.names[i]));
        }
        return out;
    }
}
