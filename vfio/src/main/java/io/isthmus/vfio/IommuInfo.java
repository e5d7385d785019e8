package io.isthmus.vfio;

import io.isthmus.bindings.vfio.vfio_h;
import io.isthmus.bindings.vfio.vfio_iommu_type1_info;
import io.isthmus.bindings.vfio.vfio_iommu_type1_info_cap_iova_range;
import io.isthmus.bindings.vfio.vfio_iommu_type1_info_dma_avail;
import io.isthmus.bindings.vfio.vfio_iova_range;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/**
 * What {@code VFIO_IOMMU_GET_INFO} reports for a type1 IOMMU: supported page sizes and, from its capability
 * chain, the usable IOVA ranges and how many more DMA mappings the container may create.
 *
 * @param pageSizes     bitmap of supported IOMMU page sizes (bit n set: 2^n bytes), 0 when not reported
 * @param iovaRanges    usable IOVA ranges; empty when the kernel does not report them (pre-5.4), meaning "any"
 * @param dmaAvailable  remaining DMA mappings ({@code VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL}), when reported
 * @param capabilities  the raw chain, for capabilities not decoded here (e.g. migration); bodies not retained
 */
public record IommuInfo(long pageSizes, List<IovaRange> iovaRanges, OptionalInt dmaAvailable,
        List<CapabilityId> capabilities) {

    /** A capability seen in the chain: id and version. */
    public record CapabilityId(int id, int version) {}

    /** The smallest supported IOMMU page size in bytes, or {@code fallback} when none is reported. */
    public long minPageSize(long fallback) {
        return pageSizes == 0 ? fallback : Long.lowestOneBit(pageSizes);
    }

    /**
     * Decodes a {@code vfio_iommu_type1_info} buffer as the kernel filled it (header plus capability chain).
     * The device path ({@link VfioContainer#iommuInfo()}) and tests use this same method.
     */
    public static IommuInfo decode(MemorySegment info) {
        int flags = vfio_iommu_type1_info.flags(info);
        long pageSizes = (flags & vfio_h.VFIO_IOMMU_INFO_PGSIZES()) != 0 ? vfio_iommu_type1_info.iova_pgsizes(info) : 0;
        List<IovaRange> ranges = new ArrayList<>();
        OptionalInt avail = OptionalInt.empty();
        List<CapabilityId> ids = new ArrayList<>();
        if ((flags & vfio_h.VFIO_IOMMU_INFO_CAPS()) != 0) {
            long first = Integer.toUnsignedLong(vfio_iommu_type1_info.cap_offset(info));
            for (VfioCapability cap : VfioCapability.chain(info, first)) {
                ids.add(new CapabilityId(cap.id(), cap.version()));
                MemorySegment body = cap.body();
                if (cap.id() == vfio_h.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE()) {
                    int n = vfio_iommu_type1_info_cap_iova_range.nr_iovas(body);
                    long base = vfio_iommu_type1_info_cap_iova_range.iova_ranges$offset();
                    long each = vfio_iova_range.sizeof();
                    if (n < 0 || base + n * each > body.byteSize()) {
                        throw new IllegalArgumentException("IOVA range capability at offset " + cap.offset()
                                + " claims " + Integer.toUnsignedString(n) + " ranges but holds "
                                + (body.byteSize() - base) / each);
                    }
                    for (int i = 0; i < n; i++) {
                        MemorySegment r = body.asSlice(base + i * each, each);
                        ranges.add(new IovaRange(vfio_iova_range.start(r), vfio_iova_range.end(r)));
                    }
                } else if (cap.id() == vfio_h.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL()) {
                    avail = OptionalInt.of(vfio_iommu_type1_info_dma_avail.avail(body));
                }
            }
        }
        return new IommuInfo(pageSizes, List.copyOf(ranges), avail, List.copyOf(ids));
    }

    /** Whether {@code [iova, iova + size)} lies in a usable range (always true when none are reported). */
    public boolean usable(long iova, long size) {
        return iovaRanges.isEmpty() || iovaRanges.stream().anyMatch(r -> r.contains(iova, size));
    }
}
