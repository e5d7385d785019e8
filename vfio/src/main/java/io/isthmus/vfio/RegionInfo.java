package io.isthmus.vfio;

import io.isthmus.bindings.vfio.vfio_h;
import io.isthmus.bindings.vfio.vfio_region_info;
import io.isthmus.bindings.vfio.vfio_region_info_cap_sparse_mmap;
import io.isthmus.bindings.vfio.vfio_region_info_cap_type;
import io.isthmus.bindings.vfio.vfio_region_sparse_mmap_area;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One device region as {@code VFIO_DEVICE_GET_REGION_INFO} describes it: where it lies in the device fd
 * ({@code offset}), its size, access flags and capabilities (sparse mmap areas, a region type, MSI-X
 * mappability).
 *
 * @param index        region index (for PCI: BAR0..5 = 0..5, ROM = 6, config = 7, VGA = 8)
 * @param flags        {@code VFIO_REGION_INFO_FLAG_*}
 * @param size         bytes; 0 when the region is absent
 * @param offset       the region's offset within the device fd (for pread/pwrite/mmap)
 * @param sparseAreas  the mmap-able parts when the kernel restricts mmap to them; empty: all (if mmap-able)
 * @param type         the region type capability, when present
 * @param msixMappable whether the MSI-X table inside this BAR may be mmap'd ({@code CAP_MSIX_MAPPABLE})
 */
public record RegionInfo(int index, int flags, long size, long offset, List<SparseArea> sparseAreas,
        Optional<RegionType> type, boolean msixMappable) {
    /** PCI region indexes, in the kernel's numbering ({@code VFIO_PCI_*_REGION_INDEX}). */
    public static final int BAR0 = 0, BAR1 = 1, BAR2 = 2, BAR3 = 3, BAR4 = 4, BAR5 = 5, ROM = 6, CONFIG = 7, VGA = 8;

    /** An mmap-able window of a region: {@code [offset, offset + size)} relative to the region start. */
    public record SparseArea(long offset, long size) {}

    /** A device-specific region type (e.g. Intel IGD OpRegion, NVIDIA NVLink2 RAM). */
    public record RegionType(int type, int subtype) {}

    public boolean readable() {
        return (flags & vfio_h.VFIO_REGION_INFO_FLAG_READ()) != 0;
    }

    public boolean writable() {
        return (flags & vfio_h.VFIO_REGION_INFO_FLAG_WRITE()) != 0;
    }

    public boolean mappable() {
        return (flags & vfio_h.VFIO_REGION_INFO_FLAG_MMAP()) != 0;
    }

    /** Decodes a {@code vfio_region_info} buffer with its capability chain (the device path uses this too). */
    public static RegionInfo decode(MemorySegment info) {
        int flags = vfio_region_info.flags(info);
        List<SparseArea> areas = new ArrayList<>();
        Optional<RegionType> type = Optional.empty();
        boolean msix = false;
        if ((flags & vfio_h.VFIO_REGION_INFO_FLAG_CAPS()) != 0) {
            long first = Integer.toUnsignedLong(vfio_region_info.cap_offset(info));
            for (VfioCapability cap : VfioCapability.chain(info, first)) {
                MemorySegment body = cap.body();
                if (cap.id() == vfio_h.VFIO_REGION_INFO_CAP_SPARSE_MMAP()) {
                    int n = vfio_region_info_cap_sparse_mmap.nr_areas(body);
                    long base = vfio_region_info_cap_sparse_mmap.areas$offset();
                    long each = vfio_region_sparse_mmap_area.sizeof();
                    if (n < 0 || base + n * each > body.byteSize()) {
                        throw new IllegalArgumentException("sparse mmap capability at offset " + cap.offset()
                                + " claims " + Integer.toUnsignedString(n) + " areas but holds "
                                + (body.byteSize() - base) / each);
                    }
                    for (int i = 0; i < n; i++) {
                        MemorySegment a = body.asSlice(base + i * each, each);
                        areas.add(new SparseArea(vfio_region_sparse_mmap_area.offset(a),
                                vfio_region_sparse_mmap_area.size(a)));
                    }
                } else if (cap.id() == vfio_h.VFIO_REGION_INFO_CAP_TYPE()) {
                    type = Optional.of(new RegionType(vfio_region_info_cap_type.type(body),
                            vfio_region_info_cap_type.subtype(body)));
                } else if (cap.id() == vfio_h.VFIO_REGION_INFO_CAP_MSIX_MAPPABLE()) {
                    msix = true;
                }
            }
        }
        return new RegionInfo(vfio_region_info.index(info), flags, vfio_region_info.size(info),
                vfio_region_info.offset(info), List.copyOf(areas), type, msix);
    }

    /** A one-line description, e.g. {@code BAR0 size 0x100000 offset 0x0 [rw mmap] sparse [0x0+0x1000]}. */
    public String describe() {
        StringBuilder sb = new StringBuilder(String.format("%-6s size 0x%x offset 0x%x [%s%s%s]", name(index), size,
                offset, readable() ? "r" : "-", writable() ? "w" : "-", mappable() ? " mmap" : ""));
        if (!sparseAreas.isEmpty()) {
            sb.append(" sparse");
            sparseAreas.forEach(a -> sb.append(String.format(" [0x%x+0x%x]", a.offset(), a.size())));
        }
        type.ifPresent(t -> sb.append(String.format(" type 0x%x/0x%x", t.type(), t.subtype())));
        if (msixMappable) {
            sb.append(" msix-mappable");
        }
        return sb.toString();
    }

    /** The PCI name of a region index: {@code BAR0}..{@code BAR5}, {@code ROM}, {@code CONFIG}, {@code VGA}. */
    public static String name(int index) {
        return switch (index) {
            case 0, 1, 2, 3, 4, 5 -> "BAR" + index;
            case 6 -> "ROM";
            case 7 -> "CONFIG";
            case 8 -> "VGA";
            default -> "REGION" + index;
        };
    }
}
