package io.isthmus.vfio;

import io.isthmus.bindings.vfio.vfio_info_cap_header;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * One entry of a VFIO info capability chain ({@code struct vfio_info_cap_header}): the kernel appends these
 * after {@code vfio_iommu_type1_info}, {@code vfio_region_info} and {@code vfio_device_info}, linked by
 * {@code next} offsets from the start of the info buffer.
 *
 * @param id      the capability id (its meaning depends on which info structure carries it)
 * @param version the capability's version
 * @param offset  the header's offset from the start of the info buffer
 * @param body    a copy of the capability, header included, in 8-byte aligned heap memory
 */
public record VfioCapability(int id, int version, long offset, MemorySegment body) {

    /**
     * Walks the chain starting at {@code firstOffset} in {@code info} (the whole buffer the kernel filled).
     * Stops at offset 0. Throws {@link IllegalArgumentException} on a malformed chain (an offset outside the
     * buffer, a header overlapping an earlier one, or a loop), naming the bad offset.
     */
    public static List<VfioCapability> chain(MemorySegment info, long firstOffset) {
        List<VfioCapability> caps = new ArrayList<>();
        long headerSize = vfio_info_cap_header.sizeof();
        long previous = 0;
        long offset = firstOffset;
        while (offset != 0) {
            // Offsets must grow: the kernel lays capabilities out in order, so anything else is a loop or corruption.
            if (offset < previous + (previous == 0 ? 0 : headerSize) || offset + headerSize > info.byteSize()
                    || (offset & 3) != 0) {
                throw new IllegalArgumentException("malformed VFIO capability chain: header at offset " + offset
                        + " (after " + previous + ") does not fit a " + info.byteSize() + "-byte info buffer");
            }
            MemorySegment header = info.asSlice(offset, headerSize);
            int id = Short.toUnsignedInt(vfio_info_cap_header.id(header));
            int version = Short.toUnsignedInt(vfio_info_cap_header.version(header));
            long next = Integer.toUnsignedLong(vfio_info_cap_header.next(header));
            long end = next != 0 && next > offset ? Math.min(next, info.byteSize()) : info.byteSize();
            // A copy in 8-aligned memory: the kernel does not pad every capability to 8 bytes (6.1 places the IOVA
            // range capability at 0x44, after the 12-byte DMA-available one), and the generated accessors use the
            // C alignment of each field.
            long length = end - offset;
            MemorySegment body = MemorySegment.ofArray(new long[(int) ((length + 7) / 8)]).asSlice(0, length);
            body.copyFrom(info.asSlice(offset, length));
            caps.add(new VfioCapability(id, version, offset, body));
            previous = offset;
            offset = next;
            if (caps.size() > 1024) {
                throw new IllegalArgumentException("malformed VFIO capability chain: more than 1024 entries");
            }
        }
        return List.copyOf(caps);
    }
}
