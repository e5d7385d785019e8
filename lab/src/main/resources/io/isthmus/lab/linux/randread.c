/*
 * The Linux lab guest's random-read benchmark: N reads of 4 KiB at random 4 KiB-aligned offsets of a block device,
 * O_DIRECT (no page cache), one at a time (queue depth 1), timed with CLOCK_MONOTONIC. Prints
 * "ISTHMUS-LINUX bench randread4k_reads=N seconds=S". Built statically with gcc when the lab image is made.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/fs.h>

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: randread DEVICE READS\n"); return 2; }
    int fd = open(argv[1], O_RDONLY | O_DIRECT);
    if (fd < 0) { perror(argv[1]); return 1; }
    unsigned long long bytes;
    if (ioctl(fd, BLKGETSIZE64, &bytes) != 0) { perror("BLKGETSIZE64"); return 1; }
    long n = atol(argv[2]), blocks = (long)(bytes / 4096);
    void *buf;
    if (posix_memalign(&buf, 4096, 4096) != 0) return 1;
    unsigned int seed = 12345;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        long blk = (long)(rand_r(&seed) % blocks);
        if (pread(fd, buf, 4096, (off_t)blk * 4096) != 4096) { perror("pread"); return 1; }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("ISTHMUS-LINUX bench randread4k_reads=%ld seconds=%.6f\n", n,
           (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
