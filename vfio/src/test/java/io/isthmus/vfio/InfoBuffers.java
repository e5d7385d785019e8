package io.isthmus.vfio;

import io.isthmus.bindings.vfio.vfio_h;
import io.isthmus.bindings.vfio.vfio_info_cap_header;
import io.isthmus.bindings.vfio.vfio_iommu_type1_info;
import io.isthmus.bindings.vfio.vfio_iommu_type1_info_cap_iova_range;
import io.isthmus.bindings.vfio.vfio_iommu_type1_info_dma_avail;
import io.isthmus.bindings.vfio.vfio_iova_range;
import io.isthmus.bindings.vfio.vfio_region_info;
import io.isthmus.bindings.vfio.vfio_region_info_cap_sparse_mmap;
import io.isthmus.bindings.vfio.vfio_region_info_cap_type;
import io.isthmus.bindings.vfio.vfio_region_sparse_mmap_area;
import java.lang.foreign.MemorySegment;

/**
 * Writes info structures with capability chains the way the kernel lays them out (vfio_iommu_type1.c,
 * vfio_pci_core.c: header, then capabilities at 8-byte aligned offsets linked by {@code next}), using the
 * generated layouts. Returns the total size the kernel would put in {@code argsz}.
 */
final class InfoBuffers {
    private InfoBuffers() {}

    static long align8(long v) {
        return (v + 7) & ~7L;
    }

    static void header(MemorySegment seg, long off, int id, int version, long next) {
        MemorySegment h = seg.asSlice(off, vfio_info_cap_header.sizeof());
        vfio_info_cap_header.id(h, (short) id);
        vfio_info_cap_header.version(h, (short) version);
        vfio_info_cap_header.next(h, (int) next);
    }

    /** Size of an IOMMU info with {@code ranges} IOVA ranges and a DMA-available capability. */
    static long iommuInfoSize(int ranges) {
        long a = align8(vfio_iommu_type1_info.sizeof());
        long b = align8(a + vfio_iommu_type1_info_cap_iova_range.sizeof() + ranges * vfio_iova_range.sizeof());
        return b + align8(vfio_iommu_type1_info_dma_avail.sizeof());
    }

    /** Fills {@code seg} as VFIO_IOMMU_GET_INFO would when it is big enough; else only argsz/flags (as the kernel). */
    static void iommuInfo(MemorySegment seg, long pageSizes, long[][] ranges, int dmaAvail) {
        long total = iommuInfoSize(ranges.length);
        long given = Integer.toUnsignedLong(vfio_iommu_type1_info.argsz(seg));
        vfio_iommu_type1_info.flags(seg, vfio_h.VFIO_IOMMU_INFO_PGSIZES() | vfio_h.VFIO_IOMMU_INFO_CAPS());
        vfio_iommu_type1_info.iova_pgsizes(seg, pageSizes);
        vfio_iommu_type1_info.argsz(seg, (int) total);
        if (given < total) {
            vfio_iommu_type1_info.cap_offset(seg, 0); // the kernel copies no capabilities into a short buffer
            return;
        }
        long a = align8(vfio_iommu_type1_info.sizeof());
        long b = align8(a + vfio_iommu_type1_info_cap_iova_range.sizeof() + ranges.length * vfio_iova_range.sizeof());
        vfio_iommu_type1_info.cap_offset(seg, (int) a);
        header(seg, a, vfio_h.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE(), 1, b);
        MemorySegment cap = seg.asSlice(a);
        vfio_iommu_type1_info_cap_iova_range.nr_iovas(cap, ranges.length);
        for (int i = 0; i < ranges.length; i++) {
            MemorySegment r = cap.asSlice(vfio_iommu_type1_info_cap_iova_range.iova_ranges$offset()
                    + i * vfio_iova_range.sizeof(), vfio_iova_range.sizeof());
            vfio_iova_range.start(r, ranges[i][0]);
            vfio_iova_range.end(r, ranges[i][1]);
        }
        header(seg, b, vfio_h.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL(), 1, 0);
        vfio_iommu_type1_info_dma_avail.avail(seg.asSlice(b), dmaAvail);
    }

    /** Size of a region info with {@code areas} sparse areas and a type capability. */
    static long regionInfoSize(int areas) {
        long a = align8(vfio_region_info.sizeof());
        long b = align8(a + vfio_region_info_cap_sparse_mmap.sizeof() + areas * vfio_region_sparse_mmap_area.sizeof());
        return b + align8(vfio_region_info_cap_type.sizeof());
    }

    /** Fills a region info with sparse areas and a type capability, honouring argsz as the kernel does. */
    static void regionInfo(MemorySegment seg, int index, long size, long offset, long[][] areas, int type, int subtype) {
        long total = regionInfoSize(areas.length);
        long given = Integer.toUnsignedLong(vfio_region_info.argsz(seg));
        vfio_region_info.flags(seg, vfio_h.VFIO_REGION_INFO_FLAG_READ() | vfio_h.VFIO_REGION_INFO_FLAG_WRITE()
                | vfio_h.VFIO_REGION_INFO_FLAG_MMAP() | vfio_h.VFIO_REGION_INFO_FLAG_CAPS());
        vfio_region_info.index(seg, index);
        vfio_region_info.size(seg, size);
        vfio_region_info.offset(seg, offset);
        vfio_region_info.argsz(seg, (int) total);
        if (given < total) {
            vfio_region_info.cap_offset(seg, 0);
            return;
        }
        long a = align8(vfio_region_info.sizeof());
        long b = align8(a + vfio_region_info_cap_sparse_mmap.sizeof() + areas.length * vfio_region_sparse_mmap_area.sizeof());
        vfio_region_info.cap_offset(seg, (int) a);
        header(seg, a, vfio_h.VFIO_REGION_INFO_CAP_SPARSE_MMAP(), 1, b);
        MemorySegment cap = seg.asSlice(a);
        vfio_region_info_cap_sparse_mmap.nr_areas(cap, areas.length);
        for (int i = 0; i < areas.length; i++) {
            MemorySegment r = cap.asSlice(vfio_region_info_cap_sparse_mmap.areas$offset()
                    + i * vfio_region_sparse_mmap_area.sizeof(), vfio_region_sparse_mmap_area.sizeof());
            vfio_region_sparse_mmap_area.offset(r, areas[i][0]);
            vfio_region_sparse_mmap_area.size(r, areas[i][1]);
        }
        header(seg, b, vfio_h.VFIO_REGION_INFO_CAP_TYPE(), 1, 0);
        vfio_region_info_cap_type.type(seg.asSlice(b), type);
        vfio_region_info_cap_type.subtype(seg.asSlice(b), subtype);
    }
}
