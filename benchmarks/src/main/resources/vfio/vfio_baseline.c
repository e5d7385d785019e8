/*
 * C baseline for VfioDmaBenchmark and VfioBarBenchmark: the same VFIO work as the Java side, with the same ioctls
 * and the same access widths, so Java/C measures only what Java adds.
 *
 * Usage: vfio_baseline MODE GROUP BDF [SIZE]
 *   MODE dma:       VFIO_IOMMU_MAP_DMA + VFIO_IOMMU_UNMAP_DMA of SIZE bytes of anonymous memory at IOVA 0x100000
 *   MODE bar-read:  one volatile 32-bit load from BAR0 offset 0x00 (edu's identification register)
 *   MODE bar-write: one volatile 32-bit store to BAR0 offset 0x04 (edu's liveness register)
 * Protocol: reads a count N per line on stdin, performs N operations, writes a checksum and a newline on stdout;
 * exits at end of input. It opens its own container and group: run it while the Java side does not hold the
 * group (a group can be open once). Built with gcc at benchmark time, or ahead of time with
 *   gcc -O2 -static -o vfio_baseline vfio_baseline.c
 * for a guest without gcc (the lab).
 */
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define IOVA 0x100000ull

static void die(const char *what) {
    perror(what);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s dma|bar-read|bar-write GROUP BDF [SIZE]\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    char path[64];
    size_t size = argc > 4 ? strtoull(argv[4], NULL, 0) : 4096;

    int container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
    if (container < 0) die("open /dev/vfio/vfio");
    if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) die("VFIO_GET_API_VERSION");
    snprintf(path, sizeof path, "/dev/vfio/%s", argv[2]);
    int group = open(path, O_RDWR | O_CLOEXEC);
    if (group < 0) die(path);
    struct vfio_group_status status = {.argsz = sizeof status};
    if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) < 0) die("VFIO_GROUP_GET_STATUS");
    if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) die("group not viable");
    if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0) die("VFIO_GROUP_SET_CONTAINER");
    int type = ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0 ? VFIO_TYPE1v2_IOMMU : VFIO_TYPE1_IOMMU;
    if (ioctl(container, VFIO_SET_IOMMU, type) < 0) die("VFIO_SET_IOMMU");

    volatile uint32_t *bar = NULL;
    void *buf = NULL;
    if (strcmp(mode, "dma") == 0) {
        /* 2 MiB-aligned, as the Java side's DmaBuffer.anonymous(size, HUGE_2M): THP eligibility changes the cost. */
        size_t align = 2u << 20;
        char *raw = mmap(NULL, size + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (raw == MAP_FAILED) die("mmap buffer");
        buf = (void *) (((uintptr_t) raw + align - 1) & ~(uintptr_t) (align - 1));
    } else {
        int device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, argv[3]);
        if (device < 0) die("VFIO_GROUP_GET_DEVICE_FD");
        struct vfio_region_info region = {.argsz = sizeof region, .index = VFIO_PCI_BAR0_REGION_INDEX};
        if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &region) < 0) die("VFIO_DEVICE_GET_REGION_INFO");
        void *p = mmap(NULL, region.size, PROT_READ | PROT_WRITE, MAP_SHARED, device, region.offset);
        if (p == MAP_FAILED) die("mmap BAR0");
        bar = p;
        /* Memory space decoding on, as the Java side does. */
        uint16_t cmd;
        struct vfio_region_info cfg = {.argsz = sizeof cfg, .index = VFIO_PCI_CONFIG_REGION_INDEX};
        if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &cfg) < 0) die("config region");
        if (pread(device, &cmd, 2, cfg.offset + 4) != 2) die("read command");
        cmd |= 0x6;
        if (pwrite(device, &cmd, 2, cfg.offset + 4) != 2) die("write command");
    }

    struct vfio_iommu_type1_dma_map map = {.argsz = sizeof map,
            .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
            .vaddr = (uintptr_t) buf, .iova = IOVA, .size = size};
    struct vfio_iommu_type1_dma_unmap unmap = {.argsz = sizeof unmap, .iova = IOVA, .size = size};
    char line[64];
    uint64_t sum = 0;
    while (fgets(line, sizeof line, stdin)) {
        long n = strtol(line, NULL, 10);
        if (strcmp(mode, "dma") == 0) {
            for (long i = 0; i < n; i++) {
                if (ioctl(container, VFIO_IOMMU_MAP_DMA, &map) < 0) die("VFIO_IOMMU_MAP_DMA");
                if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0) die("VFIO_IOMMU_UNMAP_DMA");
                sum += unmap.size;
            }
        } else if (strcmp(mode, "bar-read") == 0) {
            for (long i = 0; i < n; i++) sum += bar[0];
        } else {
            for (long i = 0; i < n; i++) bar[1] = (uint32_t) i;
            sum += n;
        }
        printf("%llu\n", (unsigned long long) sum);
        fflush(stdout);
    }
    return 0;
}
