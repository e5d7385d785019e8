/*
 * The isthmus-vgpu guest driver (docs/vgpu-device.md): a 64-bit guest that finds the vGPU among microvm's virtio-mmio
 * transports by its device ID (63), negotiates VERSION_1, sets up its request queue, allocates device memory, copies
 * its inputs in, runs a workload of kernels with a fixed number of requests in flight, copies a result back and checks
 * it, and prints its completion statistics on COM1; then leaves through isa-debug-exit with status (0x31 << 1) | 1 = 99
 * (0x32, 101, when anything failed).
 *
 * Booted as a PVH ELF64 (QEMU and this VMM enter it in 32-bit protected mode); the entry stub below identity-maps the
 * first 4 GiB with 2 MiB pages, enables long mode and SSE, and calls cmain in 64-bit mode.
 *
 * The command line (-append) sets the workload, words separated by spaces:
 *   requests=N   requests in the measured loop (default 1000)
 *   depth=D      requests in flight, 1 to 128 (default 8)
 *   mix=K:A,...  the kernels, taken round robin: spin:MICROS, saxpy:N, copy:BYTES, matmul:N (default spin:100)
 *   hostile      also sends requests a hostile driver would (bad handle, address outside RAM, over quota, bad op)
 *                and checks that each gets its error completion
 * The driver polls the used ring with interrupts suppressed (VRING_AVAIL_F_NO_INTERRUPT): a throughput workload
 * needs no interrupt, and each one costs a VM exit.
 */
#include "guest.h"

#include "pvh64.h"


/* ---- virtio-mmio (virtio 1.2, 4.2.2) ---- */
#define MMIO_BASE 0xfeb00000ull
#define MMIO_STRIDE 0x200
#define MMIO_SLOTS 24
#define R_MAGIC 0x000
#define R_VERSION 0x004
#define R_DEVICE_ID 0x008
#define R_DEVICE_FEATURES 0x010
#define R_DEVICE_FEATURES_SEL 0x014
#define R_DRIVER_FEATURES 0x020
#define R_DRIVER_FEATURES_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM_MAX 0x034
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_STATUS 0x070
#define R_QUEUE_DESC 0x080
#define R_QUEUE_DRIVER 0x090
#define R_QUEUE_DEVICE 0x0a0
#define R_CONFIG 0x100
#define VGPU_ID 63

static volatile u32 *mmio;
static u32 rd(u32 off) { return mmio[off / 4]; }
static void wr(u32 off, u32 v) { mmio[off / 4] = v; }

#define QSIZE 128
struct desc { u64 addr; u32 len; u16 flags, next; };
static struct desc descs[QSIZE] __attribute__((aligned(16)));
static struct { u16 flags, idx, ring[QSIZE], used_event; } avail __attribute__((aligned(2)));
static struct { u16 flags, idx; struct { u32 id, len; } ring[QSIZE]; u16 avail_event; } used
        __attribute__((aligned(4)));

/* ---- the vGPU's wire format (VgpuWire, VgpuOp, VgpuStatus) ---- */
struct request { u32 op, kernel; u64 tag, w[6]; };
struct completion { u64 tag; u32 status, reserved; u64 result, gpu_ns; };
enum { ALLOC = 1, FREE = 2, COPY_IN = 3, COPY_OUT = 4, LAUNCH = 5, FENCE = 6 };
enum { SPIN = 1, SAXPY = 2, COPY = 3, MATMUL = 4 };
enum { OK = 0, BAD_OP = 1, BAD_KERNEL = 2, BAD_ARGUMENT = 3, BAD_HANDLE = 4, OUT_OF_BOUNDS = 5,
       BAD_GUEST_ADDRESS = 6, OUT_OF_MEMORY = 7 };

static struct request reqs[QSIZE / 2];
static struct completion cpls[QSIZE / 2];
static u16 avail_idx, used_seen;
static int qsize;

static void fence(void) { __asm__ volatile("mfence" ::: "memory"); }

/* Puts request slot s (descriptors 2s, 2s+1) on the available ring; kick() notifies. */
static void post(int s) {
    descs[2 * s] = (struct desc){(u64)(unsigned long)&reqs[s], sizeof reqs[s], 1, (u16)(2 * s + 1)};
    descs[2 * s + 1] = (struct desc){(u64)(unsigned long)&cpls[s], sizeof cpls[s], 2, 0};
    cpls[s].status = 0xffffffff;
    avail.ring[avail_idx % qsize] = (u16)(2 * s);
    fence();
    avail_idx++;
    avail.idx = avail_idx;
}
static void kick(void) { fence(); wr(R_QUEUE_NOTIFY, 0); }

/* Waits for the next used entry; returns its request slot. */
static int reap(void) {
    while (*(volatile u16 *)&used.idx == used_seen) __asm__ volatile("pause");
    fence();
    u32 id = used.ring[used_seen % qsize].id;
    used_seen++;
    return (int)(id / 2);
}

/* One request, synchronously: returns its status; *result gets the result. */
static u32 call(u32 op, u32 kernel, u64 w0, u64 w1, u64 w2, u64 w3, u64 *result) {
    reqs[0] = (struct request){op, kernel, 0x5eed, {w0, w1, w2, w3, 0, 0}};
    post(0);
    kick();
    int s = reap();
    if (result) *result = cpls[s].result;
    return cpls[s].status;
}

static int failures;
static void expect(const char *what, u32 got, u32 want) {
    puts_(what); puts_(": status "); putdec(got);
    if (got != want) { puts_(" FAILED, expected "); putdec(want); failures++; }
    puts_("\n");
}

/* ---- the command line ---- */
static const char *cmdline = "";
static int word_is(const char *p, const char *w) {
    while (*w) if (*p++ != *w++) return 0;
    return *p == 0 || *p == ' ' || *p == '=' || *p == ':' || *p == ',';
}
static const char *option(const char *key) {
    for (const char *p = cmdline; *p; ) {
        while (*p == ' ') p++;
        if (word_is(p, key)) {
            while (*p && *p != '=' && *p != ' ') p++;
            return *p == '=' ? p + 1 : p;
        }
        while (*p && *p != ' ') p++;
    }
    return 0;
}
static u64 number(const char **pp) {
    const char *p = *pp;
    u64 v = 0;
    while (*p >= '0' && *p <= '9') v = v * 10 + (u64)(*p++ - '0');
    *pp = p;
    return v;
}

#define MAX_MIX 8
static struct { u32 kernel; u64 arg; u64 done, gpu_ns; } mix[MAX_MIX];
static int nmix;

/* Device buffers: x, y (saxpy), src, dst (copy), A, B, C (matmul). */
static u64 hx, hy, hsrc, hdst, ha, hb, hc;
static float xs[4096], ys[4096], out[4096];

static void kernel_request(struct request *r, int m) {
    u64 a = mix[m].arg;
    switch (mix[m].kernel) {
    case SPIN: *r = (struct request){LAUNCH, SPIN, (u64)m, {a}}; break;
    case SAXPY: *r = (struct request){LAUNCH, SAXPY, (u64)m, {a, 0x40000000 /* 2.0f */, hx, hy}}; break;
    case COPY: *r = (struct request){LAUNCH, COPY, (u64)m, {a, hsrc, hdst}}; break;
    default: *r = (struct request){LAUNCH, MATMUL, (u64)m, {a, ha, hb, hc}}; break;
    }
}

static void hostile(void) {
    u64 h, quota = (u64)rd(R_CONFIG) | (u64)rd(R_CONFIG + 4) << 32;
    expect("hostile: copy from a handle never allocated", call(COPY_IN, 0, 0x100000, 0xdead0001, 0, 64, 0), BAD_HANDLE);
    expect("hostile: copy to an address past RAM", call(COPY_OUT, 0, 0xfffff000ull, hx, 0, 4096, 0), BAD_GUEST_ADDRESS);
    expect("hostile: copy wrapping the address space", call(COPY_IN, 0, ~0ull - 15, hx, 0, 64, 0), BAD_GUEST_ADDRESS);
    expect("hostile: copy past the buffer's end", call(COPY_IN, 0, 0x100000, hx, 16, 16384, 0), OUT_OF_BOUNDS);
    expect("hostile: allocate more than the quota", call(ALLOC, 0, quota + 1, 0, 0, 0, &h), OUT_OF_MEMORY);
    expect("hostile: an op that does not exist", call(99, 0, 0, 0, 0, 0, 0), BAD_OP);
    expect("hostile: a kernel that does not exist", call(LAUNCH, 42, 0, 0, 0, 0, 0), BAD_KERNEL);
    expect("hostile: free a handle twice", call(FREE, 0, hdst, 0, 0, 0, 0), OK);
    expect("hostile: ... the second time", call(FREE, 0, hdst, 0, 0, 0, 0), BAD_HANDLE);
    expect("hostile: reallocate it", call(ALLOC, 0, 16384, 0, 0, 0, &hdst), OK);
}

/* ---- stats=K: the measured loop timed with the TSC, for VgpuPathCommand's per-request breakdown ----
 * stats=K runs the measured loop below instead of cmain's, the same requests in the same order, with every TSC cycle
 * of it in one of four buckets: notify (the MMIO write that kicks the device: a VM exit, there and back), wait (from
 * then until the used ring shows a completion), turn (reading the completion, building and posting the next request)
 * and print (the lines below). Before the first kick, every K completions and after the last, one line:
 *   vgpu: stats n=COMPLETED posted=P kick=TSC tsc=TSC notify=CYCLES wait=CYCLES turn=CYCLES print=CYCLES
 * with the totals so far; tsc is read just before the line is printed and print counts the earlier lines, so between
 * two lines tsc advances by exactly the sum of the buckets' advances. kick is the TSC just before the latest kick,
 * the one that made request P (the P-th of the loop) available. The guest does not know the TSC's rate: the host
 * learns it from when its device took request P off the ring (within that kick's VM exit). At depth=1
 * notify + wait is guest submit to completion seen by the guest.
 * With irq as well, the loop waits for completions with interrupts instead of polling: it lets the device interrupt
 * (the transport's GSI, 24 + its slot, on the second IOAPIC, level-triggered), and halts until the used ring moves,
 * so a vCPU waiting leaves its host CPU to the engine; the handler acknowledges the transport and the LAPIC. */
enum { ST_NOTIFY, ST_WAIT, ST_TURN, ST_PRINT };
static u64 st_mark, st_bucket[4], st_kick, st_posted;
static inline u64 rdtsc(void) {
    u32 lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return (u64)hi << 32 | lo;
}
/* The cycles since the last mark go to bucket b. */
static void st_to(int b) { u64 t = rdtsc(); st_bucket[b] += t - st_mark; st_mark = t; }
static void st_line(u64 n) {
    puts_("vgpu: stats n="); putdec(n); puts_(" posted="); putdec(st_posted); puts_(" kick="); putdec(st_kick);
    puts_(" tsc="); putdec(st_mark);
    puts_(" notify="); putdec(st_bucket[ST_NOTIFY]); puts_(" wait="); putdec(st_bucket[ST_WAIT]);
    puts_(" turn="); putdec(st_bucket[ST_TURN]); puts_(" print="); putdec(st_bucket[ST_PRINT]); puts_("\n");
    st_to(ST_PRINT);
}
#define ST_VECTOR 0x40
#define ST_LAPIC 0xfee00000ull
#define ST_IOAPIC2 0xfec10000ull
static u64 st_idt[2 * (ST_VECTOR + 1)] __attribute__((aligned(16)));
static int st_irq_mode;
static volatile u64 st_irqs;
void st_irq_entry(void);
void st_fault_entry(void);
__asm__(".globl st_irq_entry\nst_irq_entry:\n"
        "  push %rax\n  push %rcx\n  push %rdx\n  push %rsi\n  push %rdi\n  push %r8\n  push %r9\n  push %r10\n"
        "  push %r11\n  call st_irq\n  pop %r11\n  pop %r10\n  pop %r9\n  pop %r8\n  pop %rdi\n  pop %rsi\n"
        "  pop %rdx\n  pop %rcx\n  pop %rax\n  iretq\n"
        ".globl st_fault_entry\nst_fault_entry:\n  and $-16, %rsp\n  call st_fault\n");
void st_irq(void) {
    wr(0x064, rd(0x060)); /* InterruptACK what InterruptStatus says: the line drops */
    st_irqs++;
    *(volatile u32 *)(ST_LAPIC + 0xb0) = 0;
}
void st_fault(void) { puts_("vgpu: unexpected exception\n"); debug_exit(0x32); }
static void st_gate(int v, void (*h)(void)) {
    u64 a = (u64)h;
    st_idt[2 * v] = (a & 0xffff) | (0x08ull << 16) | (0x8e00ull << 32) | ((a >> 16 & 0xffff) << 48);
    st_idt[2 * v + 1] = a >> 32;
}
static void st_interrupts(void) {
    for (int v = 0; v < 32; v++) st_gate(v, st_fault_entry);
    st_gate(ST_VECTOR, st_irq_entry);
    struct __attribute__((packed)) { u16 limit; u64 base; } d = {sizeof st_idt - 1, (u64)st_idt};
    __asm__ volatile("lidt %0" : : "m"(d));
    *(volatile u32 *)(ST_LAPIC + 0xf0) = 0x1ff; /* software-enabled, spurious vector 0xff */
    *(volatile u32 *)(ST_LAPIC + 0x80) = 0;
    u32 pin = (u32)(((u64)(unsigned long)mmio - MMIO_BASE) / MMIO_STRIDE);
    volatile u32 *io = (volatile u32 *)(unsigned long)ST_IOAPIC2;
    io[0] = 0x11 + 2 * pin; io[4] = 0;                      /* to APIC 0 */
    io[0] = 0x10 + 2 * pin; io[4] = ST_VECTOR | 1u << 15;   /* fixed, physical, active high, level, unmasked */
    avail.flags = 0;
}
static int st_reap(void) {
    if (st_irq_mode) {
        while (*(volatile u16 *)&used.idx == used_seen) __asm__ volatile("sti; hlt; cli" ::: "memory");
    }
    return reap();
}
static void stats_loop(u64 every, u64 requests, u64 depth, u64 *posted, u64 *completed, u64 *errors, u64 *gpu_ns,
                       u64 *saxpys) {
    if (every < 1) every = 1;
    if (option("irq")) { st_irq_mode = 1; st_interrupts(); }
    for (u64 s = 0; s < depth && *posted < requests; s++, (*posted)++) {
        kernel_request(&reqs[s], (int)(*posted % (u64)nmix));
        post((int)s);
    }
    st_mark = rdtsc();
    st_line(0);
    st_to(ST_TURN);
    st_kick = st_mark;
    st_posted = *posted;
    kick();
    st_to(ST_NOTIFY);
    while (*completed < requests) {
        int s = st_reap();
        st_to(ST_WAIT);
        struct completion *c = &cpls[s];
        (*completed)++;
        if (c->status != OK || c->tag >= (u64)nmix) {
            (*errors)++;
        } else {
            mix[c->tag].done++;
            mix[c->tag].gpu_ns += c->gpu_ns;
            *gpu_ns += c->gpu_ns;
            if (mix[c->tag].kernel == SAXPY) (*saxpys)++;
        }
        if (*completed % every == 0 || *completed == requests) {
            st_to(ST_TURN);
            st_line(*completed);
        }
        if (*posted < requests) {
            kernel_request(&reqs[s], (int)(*posted % (u64)nmix));
            post(s);
            (*posted)++;
            st_to(ST_TURN);
            st_kick = st_mark;
            st_posted = *posted;
            kick();
            st_to(ST_NOTIFY);
        }
    }
}

void cmain(void) {
    struct hvm_start_info *si = (struct hvm_start_info *)(unsigned long)start_info;
    if (si && si->magic == 0x336ec578 && si->cmdline_paddr) cmdline = (const char *)(unsigned long)si->cmdline_paddr;

    for (int i = 0; i < MMIO_SLOTS && !mmio; i++) {
        volatile u32 *m = (volatile u32 *)(unsigned long)(MMIO_BASE + (u64)i * MMIO_STRIDE);
        if (m[R_MAGIC / 4] == 0x74726976 && m[R_VERSION / 4] == 2 && m[R_DEVICE_ID / 4] == VGPU_ID) mmio = m;
    }
    if (!mmio) { puts_("vgpu: no isthmus-vgpu (virtio device 63) on the virtio-mmio transports\n"); debug_exit(0x32); }
    puts_("vgpu: found at "); puthex((u64)(unsigned long)mmio); puts_("\n");

    wr(R_STATUS, 0);
    wr(R_STATUS, 1);
    wr(R_STATUS, 3);
    wr(R_DEVICE_FEATURES_SEL, 1);
    if (!(rd(R_DEVICE_FEATURES) & 1)) { puts_("vgpu: no VERSION_1\n"); debug_exit(0x32); }
    wr(R_DRIVER_FEATURES_SEL, 1);
    wr(R_DRIVER_FEATURES, 1);
    wr(R_DRIVER_FEATURES_SEL, 0);
    wr(R_DRIVER_FEATURES, 0);
    wr(R_STATUS, 3 | 8);
    if (!(rd(R_STATUS) & 8)) { puts_("vgpu: FEATURES_OK refused\n"); debug_exit(0x32); }
    wr(R_QUEUE_SEL, 0);
    u32 max = rd(R_QUEUE_NUM_MAX);
    qsize = max < QSIZE ? (int)max : QSIZE;
    wr(R_QUEUE_NUM, (u32)qsize);
    wr(R_QUEUE_DESC, (u32)(unsigned long)descs);
    wr(R_QUEUE_DESC + 4, 0);
    wr(R_QUEUE_DRIVER, (u32)(unsigned long)&avail);
    wr(R_QUEUE_DRIVER + 4, 0);
    wr(R_QUEUE_DEVICE, (u32)(unsigned long)&used);
    wr(R_QUEUE_DEVICE + 4, 0);
    avail.flags = 1; /* VRING_AVAIL_F_NO_INTERRUPT: this driver polls */
    wr(R_QUEUE_READY, 1);
    wr(R_STATUS, 3 | 8 | 4);
    puts_("vgpu: memory="); putdec((u64)rd(R_CONFIG) | (u64)rd(R_CONFIG + 4) << 32);
    puts_(" weight="); putdec(rd(R_CONFIG + 8)); puts_(" cap="); putdec(rd(R_CONFIG + 12));
    puts_(" kernels="); puthex(rd(R_CONFIG + 16)); puts_("\n");

    /* The workload. */
    const char *p = option("requests");
    u64 requests = p ? number(&p) : 1000;
    p = option("depth");
    u64 depth = p ? number(&p) : 8;
    if (depth < 1) depth = 1;
    if (depth > (u64)qsize / 2) depth = (u64)qsize / 2;
    p = option("mix");
    if (!p) p = "spin:100";
    while (*p && *p != ' ' && nmix < MAX_MIX) {
        u32 k = word_is(p, "spin") ? SPIN : word_is(p, "saxpy") ? SAXPY : word_is(p, "copy") ? COPY
                : word_is(p, "matmul") ? MATMUL : 0;
        while (*p && *p != ':' && *p != ' ') p++;
        if (!k || *p != ':') { puts_("vgpu: bad mix; use e.g. mix=spin:100,saxpy:4096\n"); debug_exit(0x32); }
        p++;
        mix[nmix].kernel = k;
        mix[nmix].arg = number(&p);
        nmix++;
        if (*p == ',') p++;
    }

    /* Buffers: 16 KiB each (4096 floats; the mix's sizes must fit: saxpy N <= 4096, copy <= 16384, matmul n <= 64). */
    for (int i = 0; i < 4096; i++) { xs[i] = (float)(i % 1000); ys[i] = (float)(i % 7); }
    u64 *hs[] = {&hx, &hy, &hsrc, &hdst, &ha, &hb, &hc};
    for (int i = 0; i < 7; i++) {
        if (call(ALLOC, 0, 16384, 0, 0, 0, hs[i]) != OK) { puts_("vgpu: ALLOC failed\n"); debug_exit(0x32); }
    }
    expect("vgpu: copy x in", call(COPY_IN, 0, (u64)(unsigned long)xs, hx, 0, sizeof xs, 0), OK);
    expect("vgpu: copy y in", call(COPY_IN, 0, (u64)(unsigned long)ys, hy, 0, sizeof ys, 0), OK);

    if (option("hostile")) hostile();

    /* The measured loop: keep depth requests in flight until requests have completed. */
    u64 posted = 0, completed = 0, errors = 0, gpu_ns = 0, saxpys = 0;
    if ((p = option("stats"))) stats_loop(number(&p), requests, depth, &posted, &completed, &errors, &gpu_ns, &saxpys);
    for (u64 s = 0; s < depth && posted < requests; s++, posted++) {
        int m = (int)(posted % (u64)nmix);
        kernel_request(&reqs[s], m);
        post((int)s);
    }
    kick();
    while (completed < requests) {
        int s = reap();
        struct completion *c = &cpls[s];
        completed++;
        if (c->status != OK || c->tag >= (u64)nmix) {
            errors++;
        } else {
            mix[c->tag].done++;
            mix[c->tag].gpu_ns += c->gpu_ns;
            gpu_ns += c->gpu_ns;
            if (mix[c->tag].kernel == SAXPY) saxpys++;
        }
        if (posted < requests) {
            kernel_request(&reqs[s], (int)(posted % (u64)nmix));
            post(s);
            posted++;
            kick();
        }
    }

    /* y was updated saxpys times by y = 2x + y over the first n elements of the first saxpy entry: check it. */
    u64 n = 0;
    for (int m = 0; m < nmix; m++) if (mix[m].kernel == SAXPY && !n) n = mix[m].arg;
    expect("vgpu: copy y out", call(COPY_OUT, 0, (u64)(unsigned long)out, hy, 0, sizeof out, 0), OK);
    u64 wrong = 0;
    for (u64 i = 0; i < 4096; i++) {
        float want = ys[i];
        if (i < n) for (u64 k = 0; k < saxpys; k++) want = 2.0f * xs[i] + want;
        if (out[i] != want) wrong++;
    }
    puts_("vgpu: saxpy result "); puts_(wrong ? "WRONG in " : "checked, "); putdec(wrong ? wrong : 4096);
    puts_(wrong ? " elements\n" : " elements\n");
    if (wrong) failures++;
    expect("vgpu: fence", call(FENCE, 0, 0, 0, 0, 0, 0), OK);

    puts_("vgpu: requests="); putdec(completed); puts_(" errors="); putdec(errors); puts_(" depth="); putdec(depth);
    puts_(" gpu_ns="); putdec(gpu_ns); puts_("\n");
    for (int m = 0; m < nmix; m++) {
        static const char *names[] = {"", "spin", "saxpy", "copy", "matmul"};
        puts_("vgpu: kernel "); puts_(names[mix[m].kernel]); puts_(":"); putdec(mix[m].arg); puts_(" done=");
        putdec(mix[m].done); puts_(" gpu_ns="); putdec(mix[m].gpu_ns); puts_("\n");
    }
    if (errors) failures++;
    puts_(failures ? "vgpu: FAILED\n" : "vgpu: ok\n");
    wr(R_STATUS, 0);
    debug_exit(failures ? 0x32 : 0x31);
}
