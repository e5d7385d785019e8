/*
 * C baseline for KvmExitBenchmark: runs the same guest bytes the same way as the Java side — 2 MiB of RAM in
 * slot 0, the code at 0x1000, 32-bit flat protected mode, one vCPU run on the calling thread — and handles each
 * IO or MMIO exit by reading the access from the kvm_run page into a sink, as a device write would.
 *
 * Usage: kvm_exit_baseline GUEST.bin
 * Protocol: reads a count N per line on stdin, runs N exits, writes the elapsed nanoseconds and a newline on
 * stdout; exits at end of input. Built with gcc at benchmark time.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RAM (2u << 20)
#define CODE 0x1000

static void die(const char *what) {
    perror(what);
    exit(1);
}

static volatile uint64_t sink;

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s GUEST.bin\n", argv[0]);
        return 2;
    }
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("open /dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) die("KVM_CREATE_VM");
    if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0) die("KVM_SET_TSS_ADDR");
    uint8_t *ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED) die("mmap ram");
    FILE *g = fopen(argv[1], "rb");
    if (!g) die(argv[1]);
    fread(ram + CODE, 1, RAM - CODE, g);
    fclose(g);
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = RAM, .userspace_addr = (uint64_t) ram};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) die("KVM_CREATE_VCPU");
    int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) die("mmap kvm_run");

    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
    struct kvm_segment code = {.base = 0, .limit = 0xffffffff, .selector = 0x08, .type = 0xb, .present = 1,
                               .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1};
    struct kvm_segment data = code;
    data.selector = 0x10;
    data.type = 0x3;
    sregs.cs = code;
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
    sregs.cr0 = (sregs.cr0 | 0x11) & ~0x80000000UL; /* PE | ET, no paging */
    sregs.cr4 = 0;
    sregs.efer = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");
    struct kvm_regs regs = {.rip = CODE, .rflags = 2, .rsp = 0x8000};
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");

    long n;
    while (scanf("%ld", &n) == 1) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long i = 0; i < n; i++) {
            if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
            switch (run->exit_reason) {
            case KVM_EXIT_IO:
                if (run->io.direction == KVM_EXIT_IO_OUT) {
                    uint8_t *d = (uint8_t *) run + run->io.data_offset;
                    for (uint32_t c = 0; c < run->io.count; c++) {
                        uint32_t v = 0;
                        memcpy(&v, d + c * run->io.size, run->io.size);
                        sink = run->io.port + v;
                    }
                }
                break;
            case KVM_EXIT_MMIO:
                if (run->mmio.is_write) {
                    uint64_t v = 0;
                    memcpy(&v, run->mmio.data, run->mmio.len);
                    sink = run->mmio.phys_addr + v;
                }
                break;
            default:
                fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
                return 1;
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("%ld\n", (long) ((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec)));
        fflush(stdout);
    }
    return 0;
}
