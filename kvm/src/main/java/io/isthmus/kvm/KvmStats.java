package io.isthmus.kvm;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.isthmus.bindings.kvm.kvm_stats_desc;
import io.isthmus.bindings.kvm.kvm_stats_header;
import io.isthmus.sys.Fd;
import io.isthmus.sys.Libc;

/**
 * KVM binary statistics of a VM or vCPU ({@code KVM_GET_STATS_FD}, Linux 5.14+): the descriptors, read once,
 * and the values, re-read by {@link #refresh()} with one {@code pread} into a buffer owned by this object.
 *
 * <p>Lifetime: until {@link #close()}, which closes the stats descriptor and frees the buffer. Not thread-safe:
 * one reader at a time.
 */
public final class KvmStats implements AutoCloseable {
    /**
     * One statistic.
     *
     * @param name     e.g. {@code exits}, {@code io_exits}, {@code halt_exits}
     * @param flags    {@code KVM_STATS_TYPE_*} | {@code KVM_STATS_UNIT_*} | {@code KVM_STATS_BASE_*}
     * @param exponent the unit's power of the base
     * @param size     the number of u64 values (1 for counters, more for histograms)
     * @param offset   byte offset of the values in the data block
     */
    public record Descriptor(String name, int flags, int exponent, int size, int offset) {}

    private final Fd fd;
    private final String id;
    private final List<Descriptor> descriptors;
    private final long dataOffset;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment data;

    private KvmStats(Fd fd) {
        this.fd = fd;
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment header = tmp.allocate(kvm_stats_header.layout());
            pread(header, 0);
            int nameSize = kvm_stats_header.name_size(header);
            int count = kvm_stats_header.num_desc(header);
            MemorySegment idBuf = tmp.allocate(nameSize);
            pread(idBuf, kvm_stats_header.id_offset(header));
            this.id = idBuf.getString(0);
            long descSize = kvm_stats_desc.sizeof() + nameSize;
            MemorySegment descs = tmp.allocate(descSize * count, 8);
            pread(descs, kvm_stats_header.desc_offset(header));
            List<Descriptor> list = new ArrayList<>(count);
            long dataSize = 0;
            for (int i = 0; i < count; i++) {
                MemorySegment d = descs.asSlice(descSize * i, descSize);
                String name = d.getString(kvm_stats_desc.sizeof());
                Descriptor desc = new Descriptor(name, kvm_stats_desc.flags(d), kvm_stats_desc.exponent(d),
                        kvm_stats_desc.size(d) & 0xFFFF, kvm_stats_desc.offset(d));
                list.add(desc);
                dataSize = Math.max(dataSize, desc.offset() + 8L * desc.size());
            }
            this.descriptors = List.copyOf(list);
            this.dataOffset = kvm_stats_header.data_offset(header);
            this.data = arena.allocate(Math.max(8, dataSize), 8);
        }
    }

    static KvmStats adopt(int rawFd, String name) {
        Fd fd = Fd.adopt(rawFd, name);
        try {
            return new KvmStats(fd);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    private void pread(MemorySegment buf, long offset) {
        long r = Libc.preadRaw(fd.get(), buf, buf.byteSize(), offset);
        fd.check(r, "pread " + buf.byteSize() + " bytes at " + offset);
    }

    /** The statistics' id string, e.g. {@code kvm-1234} or {@code kvm-1234/vcpu-0}. */
    public String id() {
        return id;
    }

    /** The statistics this kernel offers. */
    public List<Descriptor> descriptors() {
        return descriptors;
    }

    /** The position of {@code name} in {@link #descriptors()}, or -1. */
    public int indexOf(String name) {
        for (int i = 0; i < descriptors.size(); i++) {
            if (descriptors.get(i).name().equals(name)) {
                return i;
            }
        }
        return -1;
    }

    /** Re-reads all values from the kernel (one {@code pread}; allocates nothing). */
    public KvmStats refresh() {
        pread(data, dataOffset);
        return this;
    }

    /** The first value of statistic {@code index} as of the last {@link #refresh()}. */
    public long value(int index) {
        return data.get(JAVA_LONG_UNALIGNED, descriptors.get(index).offset());
    }

    /** Refreshes and returns the first value of every statistic, by name. */
    public Map<String, Long> snapshot() {
        refresh();
        Map<String, Long> out = new LinkedHashMap<>();
        for (int i = 0; i < descriptors.size(); i++) {
            out.put(descriptors.get(i).name(), value(i));
        }
        return out;
    }

    @Override
    public synchronized void close() {
        if (!fd.isClosed()) {
            fd.close();
            arena.close();
        }
    }
}
