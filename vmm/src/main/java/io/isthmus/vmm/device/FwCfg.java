package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.kvm.memory.GuestRegion;

import java.lang.foreign.MemorySegment;

/**
 * QEMU's firmware configuration device as x86 machines have it ({@code fw_cfg_io} with DMA, QEMU's
 * {@code docs/specs/fw_cfg.rst}): ports 0x510-0x51b, the range the DSDT's {@code FWCF} device describes.
 *
 * <ul>
 * <li>0x510, 16-bit write: the selector. Selecting resets the data offset to 0.</li>
 * <li>0x510 or 0x511, 8-bit read: the selected item's next byte; 0 past its end or when nothing is selected.
 *     8-bit writes are ignored (QEMU removed data writes in 2.4); a 16-bit read of 0x510 reads 0.</li>
 * <li>0x514-0x51b: the DMA address, big-endian, written as two 32-bit halves; writing the low half (0x518) starts
 *     the transfer the {@code FWCfgDmaAccess} there describes (big-endian control, length, address). Reads give
 *     the signature "QEMU CFG".</li>
 * </ul>
 *
 * <p>A port access is cut as QEMU's memory core cuts it, into naturally aligned pieces each handled by the part of
 * the range it starts in, so that odd accesses read what they read under QEMU: a 16- or 32-bit read of 0x510 is
 * not valid and reads 0, a 32-bit write there is dropped, a 16-bit read of 0x511 reads a data byte and an
 * unassigned one, and bytes outside the two parts (0x512-0x513, past 0x51b) read as all ones and drop writes, as
 * QEMU's unassigned ports do.
 *
 * <p>DMA: the control word selects (bit 3, key in the high half), then reads (bit 1), skips (bit 2) or writes
 * (bit 4); the device clears it when done, or leaves only the error bit (bit 0). The guest is not trusted with any
 * address: a descriptor outside RAM gets the error bit if its control word is in RAM and is otherwise ignored; a
 * transfer writes only the RAM parts of its target and sets the error bit for the rest (where QEMU would also
 * write a device's registers, this writes nothing); every item is read-only, so a write is an error. Nothing is
 * ever touched outside guest RAM.
 *
 * <p>Lifetime: from {@link #plug} to the machine's end; {@link #load} replaces what it serves when the machine
 * boots again. Thread-safe: vCPU threads reach it concurrently; the selection, offset and DMA address are guarded by
 * this object's monitor, the items are replaced whole through a volatile field. Port accesses allocate nothing; a
 * DMA transfer allocates only views of the chunks it copies.
 */
public final class FwCfg implements Device {
    /** The first port, and how many the device answers. */
    public static final int PORT = 0x510, PORTS = 12;
    /** The DMA address register's offset from {@link #PORT}. */
    static final int DMA_OFFSET = 4;
    /** {@code FW_CFG_ID}'s bits: the traditional interface and DMA. */
    public static final int ID_TRADITIONAL = 1, ID_DMA = 2;
    /** The DMA control word's bits. */
    public static final int DMA_ERROR = 0x01, DMA_READ = 0x02, DMA_SKIP = 0x04, DMA_SELECT = 0x08, DMA_WRITE = 0x10;
    /** What reads of the DMA address register return: "QEMU CFG", big-endian. */
    static final long DMA_SIGNATURE = 0x51454d5520434647L;
    private static final int INVALID = -1;
    private static final MemorySegment ZEROS = MemorySegment.ofArray(new byte[64 * 1024]).asReadOnly();

    private volatile FwCfgItems items;
    private GuestMemory memory;
    private final BusDevice ports = new Ports();
    /** The selected key, or {@link #INVALID}; guarded by this. */
    private int current;
    /** The next byte of the selected item (QEMU's 32-bit {@code cur_offset}); guarded by this. */
    private int offset;
    /** The DMA descriptor's address as written so far; guarded by this. */
    private long dmaAddress;

    /** A device serving nothing until {@link #load}. */
    public FwCfg() {
        this(FwCfgItems.builder().build());
    }

    /** A device serving {@code items}, with the signature selected (as after a reset). */
    public FwCfg(FwCfgItems items) {
        this.items = items;
    }

    @Override
    public void plug(Platform platform) {
        memory = platform.memory();
        platform.pio(PORT, PORTS, ports, "fw_cfg");
    }

    /** QEMU's reset: the signature selected, the offset 0 (a DMA address half written stays, as in QEMU). */
    @Override
    public synchronized void reset() {
        select(FwCfgItems.SIGNATURE);
    }

    /**
     * Serves {@code next} from now on (a new boot's kernel items); the selection stays as it is. Called with the
     * vCPUs stopped.
     */
    public void load(FwCfgItems next) {
        items = next;
    }

    /** What the device serves. */
    public FwCfgItems items() {
        return items;
    }

    private void select(int key) {
        offset = 0;
        int entry = key & FwCfgItems.ENTRY_MASK;
        current = entry >= FwCfgItems.MAX_ENTRY ? INVALID : key & 0xffff;
    }

    /** The selected item's bytes, or null. */
    private byte[] selected() {
        return current == INVALID ? null : items.data(current);
    }

    private int readData() {
        byte[] d = selected();
        if (d == null || Integer.compareUnsigned(offset, d.length) >= 0) {
            return 0;
        }
        return d[offset++] & 0xff;
    }

    /** The ports, cut into the pieces QEMU's memory core would hand each part. */
    private final class Ports implements BusDevice {
        @Override
        public long read(long offset, int size) {
            long value = 0;
            int at = (int) offset, done = 0;
            synchronized (FwCfg.this) {
                while (done < size) {
                    int n = piece(at, size - done);
                    long v;
                    if (at < 2) {
                        v = n == 1 ? readData() : 0; // wider reads are not valid there: QEMU reads 0
                    } else if (at >= DMA_OFFSET && at < PORTS) {
                        v = 0;
                        for (int i = 0; i < n; i++) { // big-endian register: the signature in memory order
                            v |= ((DMA_SIGNATURE >>> (8 * (7 - (at - DMA_OFFSET) - i))) & 0xff) << (8 * i);
                        }
                    } else {
                        v = n == 8 ? -1L : (1L << (8 * n)) - 1; // unassigned ports read all ones
                    }
                    value |= v << (8 * done);
                    at += n;
                    done += n;
                }
            }
            return value;
        }

        @Override
        public void write(long offset, int size, long value) {
            int at = (int) offset, done = 0;
            synchronized (FwCfg.this) {
                while (done < size) {
                    int n = piece(at, size - done);
                    long v = value >>> (8 * done);
                    if (at == 0 && n == 2) {
                        select((int) v & 0xffff);
                    } else if (n == 8 && at == DMA_OFFSET) {
                        dmaAddress = Long.reverseBytes(v); // one 64-bit write (not possible on ports, but valid)
                        transfer();
                    } else if (n == 4 && (at == DMA_OFFSET || at == DMA_OFFSET + 4)) {
                        long half = Integer.toUnsignedLong(Integer.reverseBytes((int) v)); // big-endian register
                        if (at == DMA_OFFSET) {
                            dmaAddress = half << 32;
                        } else {
                            dmaAddress |= half;
                            transfer();
                        }
                    }
                    // Anything else is dropped: 8-bit data writes (removed in QEMU 2.4), a selector write that is
                    // not 16 bits, DMA register writes of other sizes, unassigned ports.
                    at += n;
                    done += n;
                }
            }
        }

        /**
         * The size of the piece at {@code at} of an access with {@code left} bytes to go, as QEMU's
         * {@code memory_access_size} cuts it for the region there: no larger than the region's widest access (8 for
         * the DMA register, 4 for the selector/data pair and for unassigned ports), nor than the alignment of the
         * offset within the region (unassigned ports are offsets of the whole I/O space), a power of two. It is not
         * cut at the region's end: a 32-bit read of 0x510 is one invalid access to the selector/data pair.
         */
        private int piece(int at, int left) {
            int rel, max;
            if (at < 2) {
                rel = at;
                max = 4;
            } else if (at >= DMA_OFFSET && at < PORTS) {
                rel = at - DMA_OFFSET;
                max = 8;
            } else {
                rel = PORT + at;
                max = 4;
            }
            int n = Math.min(left, max);
            if (rel != 0) {
                n = Math.min(n, rel & -rel);
            }
            return Integer.highestOneBit(n);
        }
    }

    /** Runs the DMA transfer described at {@link #dmaAddress}, as QEMU's {@code fw_cfg_dma_transfer}. */
    private void transfer() {
        long desc = dmaAddress;
        dmaAddress = 0;
        GuestMemory mem = memory;
        if (!mem.isRam(desc, 16)) {
            if (mem.isRam(desc, 4)) {
                mem.writeInt(desc, Integer.reverseBytes(DMA_ERROR));
            }
            return;
        }
        int control = Integer.reverseBytes(mem.readInt(desc));
        long length = Integer.toUnsignedLong(Integer.reverseBytes(mem.readInt(desc + 4)));
        long address = Long.reverseBytes(mem.readLong(desc + 8));
        if ((control & DMA_SELECT) != 0) {
            select(control >>> 16);
        }
        byte[] data = selected();
        boolean read = (control & DMA_READ) != 0;
        boolean write = !read && (control & DMA_WRITE) != 0;
        if (!read && !write && (control & DMA_SKIP) == 0) {
            length = 0;
        }
        int status = 0;
        while (length > 0 && status == 0) {
            long n;
            if (data == null || Integer.compareUnsigned(offset, data.length) >= 0) {
                n = length;
                if (read && !toGuest(address, n, null, 0)) {
                    status = DMA_ERROR;
                }
            } else {
                n = Math.min(length, data.length - offset);
                if (read && !toGuest(address, n, data, offset)) {
                    status = DMA_ERROR;
                }
                offset += (int) n;
            }
            if (write) {
                status = DMA_ERROR; // every item is read-only
            }
            address += n;
            length -= n;
        }
        mem.writeInt(desc, Integer.reverseBytes(status));
    }

    /**
     * Copies {@code n} bytes of {@code src} from {@code from} (zeros when {@code src} is null) to guest-physical
     * {@code address}, into the RAM parts of the range only; returns whether it was all RAM.
     */
    private boolean toGuest(long address, long n, byte[] src, int from) {
        GuestMemory mem = memory;
        boolean whole = true;
        long a = address, left = n;
        if (Long.compareUnsigned(a + left, a) < 0 && a + left != 0) {
            left = -a; // the part below 2^64; the rest wraps and is not RAM
            whole = false;
        }
        long done = 0;
        while (left > 0) {
            GuestRegion r = mem.regionOf(a);
            if (r == null) {
                whole = false;
                long next = nextRam(mem, a);
                if (next == 0 || Long.compareUnsigned(next - a, left) >= 0) {
                    break;
                }
                done += next - a;
                left -= next - a;
                a = next;
                continue;
            }
            long k = Math.min(left, r.end() - a);
            for (long c = 0; c < k; ) {
                long m = src == null ? Math.min(k - c, ZEROS.byteSize()) : k - c;
                MemorySegment chunk = src == null ? ZEROS.asSlice(0, m)
                        : MemorySegment.ofArray(src).asSlice(from + done + c, m);
                mem.write(a + c, chunk);
                c += m;
            }
            a += k;
            done += k;
            left -= k;
        }
        return whole;
    }

    /** The lowest RAM address above {@code a}, or 0 when there is none. */
    private static long nextRam(GuestMemory mem, long a) {
        long best = 0;
        for (GuestRegion r : mem.regions()) {
            if (Long.compareUnsigned(r.start(), a) > 0 && (best == 0 || Long.compareUnsigned(r.start(), best) < 0)) {
                best = r.start();
            }
        }
        return best;
    }
}
