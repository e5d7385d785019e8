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
 *   wait=poll    how it waits for completions: poll (default) spins on the used ring with interrupts suppressed
 *                (VRING_AVAIL_F_NO_INTERRUPT): no interrupt costs a VM exit, but the vCPU never sleeps; irq halts the
 *                vCPU until the device's interrupt (IOAPIC pin, level-triggered, delivered by the in-kernel LAPIC),
 *                so a guest waiting for its GPU takes no host CPU, as a real driver's does (with the LAPIC timer as
 *                a 50 ms watchdog against a lost interrupt: see watchdog_check)
 *   attack=LIST  a hostile driver for the whole run, until the VMM stops it (see "attack=LIST" below)
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

/* ---- wait=irq: the device's interrupt wakes a halted vCPU ---- */
#define R_INTERRUPT_STATUS 0x060
#define R_INTERRUPT_ACK 0x064
#define LAPIC 0xfee00000ull
#define IOAPIC2 0xfec10000ull /* GSI 24-47: virtio-mmio transport N is GSI 24 + N (this VMM's and QEMU microvm's) */
#define IRQ_VECTOR 0x40
static int irq_mode;
struct idt_entry { u16 off0, sel; u8 ist, type; u16 off1; u32 off2, zero; };
static struct idt_entry idt[256] __attribute__((aligned(16)));
/* Every vector returns at once: the waiting loop acknowledges the device after the halt, with interrupts off. */
__asm__(".text\n.globl isr_return\nisr_return: iretq\n");
extern char isr_return[];
/* The watchdog: the LAPIC timer, every 50 ms, on a vector of a higher priority class than the device's (so it is
 * delivered even while the device's is in service). Its handler notes it and ends it at the LAPIC itself. */
#define WATCHDOG_VECTOR 0xf0
volatile int watchdog_fired __attribute__((used));
__asm__(".text\n.globl isr_watchdog\nisr_watchdog:\n"
        "  push %rax\n"
        "  movl $1, watchdog_fired(%rip)\n"
        "  movabs $0xfee000b0, %rax\n"
        "  movl $0, (%rax)\n"
        "  pop %rax\n"
        "  iretq\n");
extern char isr_watchdog[];
/* The device's vector notes when it was taken (the TSC), so a wake can tell whether it ended the halt. */
volatile u64 device_irq_tsc __attribute__((used));
__asm__(".text\n.globl isr_device\nisr_device:\n"
        "  push %rax\n"
        "  push %rdx\n"
        "  rdtsc\n"
        "  shl $32, %rdx\n"
        "  or %rdx, %rax\n"
        "  mov %rax, device_irq_tsc(%rip)\n"
        "  pop %rdx\n"
        "  pop %rax\n"
        "  iretq\n");
extern char isr_device[];
static u64 watchdog_missed; /* watchdog wakes that found completions the device's interrupt had not announced */
static inline u64 tsc_now(void) { u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return (u64)hi << 32 | lo; }
static void lapic_write(u32 reg, u32 v) { *(volatile u32 *)(unsigned long)(LAPIC + reg) = v; }
static u32 lapic_read(u32 reg) { return *(volatile u32 *)(unsigned long)(LAPIC + reg); }
static void ioapic_write(u32 reg, u32 v) {
    *(volatile u32 *)(unsigned long)IOAPIC2 = reg;
    *(volatile u32 *)(unsigned long)(IOAPIC2 + 0x10) = v;
}
static int irq_slot;
static void irq_setup(int slot) {
    irq_slot = slot;
    u64 h = (u64)(unsigned long)isr_return;
    for (int v = 0; v < 256; v++) idt[v] = (struct idt_entry){(u16)h, 0x08, 0, 0x8e, (u16)(h >> 16), (u32)(h >> 32), 0};
    struct { u16 limit; u64 base; } __attribute__((packed)) idtr = {sizeof idt - 1, (u64)(unsigned long)idt};
    __asm__ volatile("lidt %0" : : "m"(idtr));
    lapic_write(0x80, 0);          /* TPR: accept every priority */
    lapic_write(0xf0, 0x1ff);      /* SVR: APIC enabled, spurious vector 0xff */
    ioapic_write(0x11 + 2 * slot, 0);                         /* destination: APIC 0 */
    ioapic_write(0x10 + 2 * slot, IRQ_VECTOR | 1u << 15);     /* fixed, physical, active high, level, unmasked */
    u64 w = (u64)(unsigned long)isr_watchdog, d = (u64)(unsigned long)isr_device;
    idt[WATCHDOG_VECTOR] = (struct idt_entry){(u16)w, 0x08, 0, 0x8e, (u16)(w >> 16), (u32)(w >> 32), 0};
    idt[IRQ_VECTOR] = (struct idt_entry){(u16)d, 0x08, 0, 0x8e, (u16)(d >> 16), (u32)(d >> 32), 0};
    lapic_write(0x3e0, 0xb);                            /* timer divide by 1 */
    lapic_write(0x320, WATCHDOG_VECTOR | 1u << 17);     /* periodic */
    lapic_write(0x380, 50000000);                       /* 50 ms at KVM's 1 GHz APIC bus clock */
}
/* A watchdog wake (t0: the TSC just before the halt). The driver looks at the used ring after every wake, so a lost
 * interrupt costs at most one period; but one that never reached the LAPIC leaves the IOAPIC pin's remote IRR set
 * (the EOI that clears it never comes) and the pin silent for ever after. So when two waits in a row end by the
 * watchdog with completions waiting and without the device's interrupt (a late interrupt can make one such wait, not
 * two), the driver writes the vector to the IOAPIC's own EOI register, which clears remote IRR (the pin delivers again
 * if the line is still up), and reports it with the pin's state, the first three times. Seen in the lab (nested KVM
 * on QEMU's TCG) before this watchdog existed: a guest halted for good with completions waiting. */
static int watchdog_strikes;
static void watchdog_check(u64 t0) {
    watchdog_fired = 0;
    if (*(volatile u16 *)&used.idx == used_seen || device_irq_tsc >= t0) { watchdog_strikes = 0; return; }
    if (++watchdog_strikes < 2) return;
    watchdog_strikes = 0;
    int pending = lapic_read(0x200 + (IRQ_VECTOR / 32) * 0x10) >> (IRQ_VECTOR % 32) & 1;
    int in_service = lapic_read(0x100 + (IRQ_VECTOR / 32) * 0x10) >> (IRQ_VECTOR % 32) & 1;
    *(volatile u32 *)(unsigned long)IOAPIC2 = 0x10 + 2 * (u32)irq_slot;
    int remote_irr = *(volatile u32 *)(unsigned long)(IOAPIC2 + 0x10) >> 14 & 1;
    *(volatile u32 *)(unsigned long)(IOAPIC2 + 0x40) = IRQ_VECTOR;
    if (++watchdog_missed <= 3) {
        puts_("vgpu: watchdog: no interrupt for two periods with completions waiting: LAPIC IRR=");
        putdec((u64)pending); puts_(" ISR="); putdec((u64)in_service); puts_(", IOAPIC remote IRR=");
        putdec((u64)remote_irr); puts_(" (cleared)\n");
    }
}
/* Halts until an interrupt, then acknowledges it at the device and the LAPIC (the line is level-triggered: the
 * device lowers it on the ACK, so the EOI does not bring it straight back). Interrupts stay off outside the halt, so
 * no interrupt is ever taken without its acknowledgement; one that arrived meanwhile is pending and ends the next
 * halt at once (sti's one-instruction shadow covers the hlt), and the watchdog covers an interrupt lost anyway. */
static void irq_wait(void) {
    u64 t0 = tsc_now();
    __asm__ volatile("sti; hlt; cli" ::: "memory");
    if (watchdog_fired) watchdog_check(t0);
    u32 st = rd(R_INTERRUPT_STATUS);
    if (st) wr(R_INTERRUPT_ACK, st);
    lapic_write(0xb0, 0);
}

/* Waits for the next used entry; returns its request slot. */
static int reap(void) {
    while (*(volatile u16 *)&used.idx == used_seen) {
        if (irq_mode) irq_wait(); else __asm__ volatile("pause");
    }
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

/* ---- attack=LIST: a hostile driver for the whole run ----
 *
 * attack=descriptors,ring,addresses,handles,quota,flood,noreap,reset (any subset, in any order) makes this guest a
 * hostile driver that loops over the listed attacks until the VMM stops the machine from outside (QMP quit); it never
 * exits by itself unless it cannot set the device up at all. Each attack:
 *   descriptors  chains the device cannot answer: next out of range, a loop, no device-writable buffer, a buffer
 *                outside RAM, a completion buffer too short, an indirect descriptor never negotiated
 *   ring         the available index jumped past the queue size, a head past the table, rings outside RAM; the
 *                queue turned off and on again with kernels in flight
 *   addresses    COPY_IN/COPY_OUT with guest addresses outside RAM, in the MMIO hole, wrapping; negative lengths,
 *                device ranges past the buffer
 *   handles      handles forged with other vGPUs' tags (another VM's), stale generations, slots never allocated
 *   quota        allocations past the quota, of absurd sizes, then 64 KiB ones up to the quota (every 8th time,
 *                the 2nd first, 1-byte ones up to the table of 4096 handles), one past it, all freed
 *   flood        QueueNotify in a tight loop with nothing new (and of queues that do not exist), then one new
 *                chain per notification
 *   noreap       a backlog of 1 ms kernels whose completions are never read (used.idx only watched so as not to
 *                overfill), then the queue overfilled
 *   reset        a 100 ms kernel, then a device reset as soon as it completed, 4 times: each vGPU set up after a
 *                reset inherits what the one before owed for its kernel, so resetting sheds nothing (on the host's
 *                side the attacker gets its weight's share, no more)
 * descriptors and ring, and noreap's overfill, break the device (DEVICE_NEEDS_RESET, the device's answer to a chain
 * it cannot complete): the guest sees it in the status register, resets the device, sets it up again and goes on.
 * Every other bad request must come back with its error status. After each attack the guest prints
 * "attack: progress N" (N attacks done so far); after each round, per attack:
 *   attack NAME: sent=N errors=N broken=N ok=N unexpected=N mcycles=N (TSC cycles spent on it, millions)
 * sent: bad requests or chains sent; errors: those that got the expected error status; broken: those that broke the
 * device as expected; ok: valid requests that succeeded; unexpected: anything else (also printed as
 * "attack: UNEXPECTED ..." for the first few).
 */
#define ST_NEEDS_RESET 0x40
enum { A_DESCRIPTORS, A_RING, A_ADDRESSES, A_HANDLES, A_QUOTA, A_FLOOD, A_NOREAP, A_RESET, A_COUNT };
static const char *attack_names[A_COUNT] = {"descriptors", "ring", "addresses", "handles", "quota", "flood",
                                            "noreap", "reset"};
static struct { u64 sent, errors, broken, ok, unexpected, cycles; } acount[A_COUNT];
static int a_cur;
static u64 a_quota, a_buf[2]; /* the device-memory quota; two valid 16 KiB buffers */
static u32 a_want[QSIZE / 2];
static u64 a_small[4096];
static u64 a_seed = 0x2545f4914f6cdd1dull;

static u64 a_random(void) { a_seed ^= a_seed << 13; a_seed ^= a_seed >> 7; a_seed ^= a_seed << 17; return a_seed; }

static void a_unexpected(const char *what, u64 got, u64 want) {
    acount[a_cur].unexpected++;
    if (acount[a_cur].unexpected <= 3) {
        puts_("attack: UNEXPECTED "); puts_(attack_names[a_cur]); puts_(": "); puts_(what); puts_(": got ");
        putdec(got); puts_(", expected "); putdec(want); puts_("\n");
    }
}

/* Accepts VERSION_1 alone (the driver's half of feature negotiation, before FEATURES_OK). */
static void accept_version_1(void) {
    wr(R_DRIVER_FEATURES_SEL, 1);
    wr(R_DRIVER_FEATURES, 1);
    wr(R_DRIVER_FEATURES_SEL, 0);
    wr(R_DRIVER_FEATURES, 0);
}
/* Gives the device queue 0's size and the three rings' addresses (not yet ready). */
static void queue_addresses(void) {
    wr(R_QUEUE_NUM, (u32)qsize);
    wr(R_QUEUE_DESC, (u32)(unsigned long)descs);
    wr(R_QUEUE_DESC + 4, 0);
    wr(R_QUEUE_DRIVER, (u32)(unsigned long)&avail);
    wr(R_QUEUE_DRIVER + 4, 0);
    wr(R_QUEUE_DEVICE, (u32)(unsigned long)&used);
    wr(R_QUEUE_DEVICE + 4, 0);
}

/* Resets the device and sets it up again from nothing: queue, DRIVER_OK, two buffers. */
static u32 a_call(u32 op, u64 w0, u64 *result);
static void a_setup(void) {
    wr(R_STATUS, 0);
    avail_idx = used_seen = 0;
    avail.idx = 0;
    avail.flags = 1;
    used.idx = 0;
    fence();
    wr(R_STATUS, 1);
    wr(R_STATUS, 3);
    accept_version_1();
    wr(R_STATUS, 3 | 8);
    wr(R_QUEUE_SEL, 0);
    queue_addresses();
    wr(R_QUEUE_READY, 1);
    wr(R_STATUS, 3 | 8 | 4);
    if (rd(R_STATUS) != (3 | 8 | 4)) {
        puts_("attack: cannot set the device up again, status "); puthex(rd(R_STATUS)); puts_("\n");
        debug_exit(0x32);
    }
    for (int i = 0; i < 2; i++) {
        if (a_call(ALLOC, 16384, &a_buf[i]) != OK) { puts_("attack: ALLOC after set-up failed\n"); debug_exit(0x32); }
    }
}

/* The next used entry's request slot, or -1 when the device broke meanwhile (it has not been set up again). */
static int a_reap(void) {
    for (u32 spins = 0; *(volatile u16 *)&used.idx == used_seen; spins++) {
        __asm__ volatile("pause");
        if ((spins & 0xfff) == 0xfff && (rd(R_STATUS) & ST_NEEDS_RESET)) return -1;
    }
    fence();
    u32 id = used.ring[used_seen % qsize].id;
    used_seen++;
    return (int)(id / 2);
}

static u32 a_call(u32 op, u64 w0, u64 *result) {
    reqs[0] = (struct request){op, 0, 0, {w0}};
    post(0);
    kick();
    int s = a_reap();
    if (s < 0) { puts_("attack: the device broke on a valid request\n"); debug_exit(0x32); }
    if (result) *result = cpls[s].result;
    return cpls[s].status;
}

/*
 * Sends reqs[0..n) (n <= qsize / 2), each expecting a_want[i], and reaps them: counts each as an error got, an ok,
 * or unexpected. results[i] gets request i's result when results is not null. Returns 0, or -1 when the device
 * broke (counted as unexpected; set up again).
 */
static int a_batch(int n, u64 *results) {
    for (int i = 0; i < n; i++) {
        reqs[i].tag = (u64)i;
        post(i);
    }
    kick();
    for (int k = 0; k < n; k++) {
        int s = a_reap();
        if (s < 0) { a_unexpected("the device broke on valid-shaped requests", 1, 0); a_setup(); return -1; }
        struct completion *c = &cpls[s];
        acount[a_cur].sent++;
        if (c->tag != (u64)s) a_unexpected("completion tag", c->tag, (u64)s);
        else if (c->status != a_want[s]) a_unexpected("status", c->status, a_want[s]);
        else if (c->status == OK) acount[a_cur].ok++;
        else acount[a_cur].errors++;
        if (results) results[s] = c->result;
    }
    return 0;
}

/* The chain just made available should have broken the device: count it, then set the device up again. */
static void a_expect_broken(const char *what) {
    u32 st = rd(R_STATUS);
    acount[a_cur].sent++;
    if (st & ST_NEEDS_RESET) acount[a_cur].broken++;
    else a_unexpected(what, st, ST_NEEDS_RESET | 0xf);
    a_setup();
}

/* Makes the chain at descriptor head available and notifies. */
static void a_offer(u16 head) {
    avail.ring[avail_idx % qsize] = head;
    fence();
    avail_idx++;
    avail.idx = avail_idx;
    kick();
}

static void attack_descriptors(void) {
    u64 req = (u64)(unsigned long)&reqs[0], cpl = (u64)(unsigned long)&cpls[0];
    reqs[0] = (struct request){FENCE, 0, 0, {0}};
    descs[0] = (struct desc){req, 64, 1, (u16)(qsize + 5)};
    a_offer(0);
    a_expect_broken("next index past the table");
    descs[0] = (struct desc){req, 64, 1, 1};
    descs[1] = (struct desc){req, 64, 1, 0};
    a_offer(0);
    a_expect_broken("a loop of descriptors");
    descs[0] = (struct desc){req, 64, 0, 0};
    a_offer(0);
    a_expect_broken("no device-writable buffer");
    descs[0] = (struct desc){0x4000000000ull, 64, 1, 1};
    descs[1] = (struct desc){cpl, 32, 2, 0};
    a_offer(0);
    a_expect_broken("a request buffer outside RAM");
    descs[0] = (struct desc){req, 64, 1, 1};
    descs[1] = (struct desc){0xfeb00000ull, 32, 2, 0};
    a_offer(0);
    a_expect_broken("a completion buffer in the MMIO hole");
    descs[1] = (struct desc){cpl, 8, 2, 0};
    a_offer(0);
    a_expect_broken("a completion buffer of 8 bytes");
    descs[0] = (struct desc){(u64)(unsigned long)&descs[4], 32, 4, 0};
    a_offer(0);
    a_expect_broken("an indirect descriptor never negotiated");
}

static void attack_ring(void) {
    reqs[0] = (struct request){FENCE, 0, 0, {0}};
    descs[0] = (struct desc){(u64)(unsigned long)&reqs[0], 64, 1, 1};
    descs[1] = (struct desc){(u64)(unsigned long)&cpls[0], 32, 2, 0};
    avail.ring[0] = 0;
    fence();
    avail.idx = (u16)(avail_idx + qsize + 1);
    kick();
    a_expect_broken("available index past the queue size");
    a_offer((u16)(qsize + 3));
    a_expect_broken("available entry naming a descriptor past the table");
    /* The queue's rings placed outside RAM: refused when the queue is made ready. */
    wr(R_STATUS, 0);
    wr(R_STATUS, 1);
    wr(R_STATUS, 3);
    wr(R_DRIVER_FEATURES_SEL, 1);
    wr(R_DRIVER_FEATURES, 1);
    wr(R_STATUS, 3 | 8);
    wr(R_QUEUE_SEL, 0);
    wr(R_QUEUE_NUM, (u32)qsize);
    wr(R_QUEUE_DESC, 0);
    wr(R_QUEUE_DESC + 4, 0x40);
    wr(R_QUEUE_DRIVER, (u32)(unsigned long)&avail);
    wr(R_QUEUE_DEVICE, (u32)(unsigned long)&used);
    wr(R_QUEUE_READY, 1);
    a_expect_broken("descriptor table outside RAM");
    /*
     * The queue turned off with kernels in flight, and on again on fresh rings: the old chains must never be answered
     * on the new ring (their tags, 100 and up, would show), and the new requests come back in order after them.
     */
    for (int i = 0; i < 8; i++) { reqs[i] = (struct request){LAUNCH, SPIN, 100 + (u64)i, {2000}}; post(i); }
    kick();
    wr(R_QUEUE_SEL, 0);
    wr(R_QUEUE_READY, 0);
    for (int i = 0; i < 100; i++) rd(R_STATUS); /* a few of the spins finish while the queue is off */
    avail_idx = used_seen = 0;
    avail.idx = 0;
    used.idx = 0;
    fence();
    wr(R_QUEUE_READY, 1);
    for (int i = 0; i < 4; i++) { reqs[i] = (struct request){(i & 1) ? FENCE : 99, 0, 0, {0}}; a_want[i] = (i & 1) ? OK : BAD_OP; }
    a_batch(4, 0);
}

static void attack_addresses(void) {
    static const u64 addr[] = {0x4000000000ull, 0xfffff000ull, 0xfeb00000ull, ~0ull - 15, 0x8000000000000000ull};
    int n = qsize / 2;
    for (int i = 0; i < n; i++) {
        int k = i % 8;
        u32 op = (i & 8) ? COPY_OUT : COPY_IN;
        u64 h = a_buf[i & 1];
        if (k < 5) { reqs[i] = (struct request){op, 0, 0, {addr[k], h, 0, 4096}}; a_want[i] = BAD_GUEST_ADDRESS; }
        else if (k == 5) { reqs[i] = (struct request){op, 0, 0, {0x100000, h, 0, ~0ull}}; a_want[i] = BAD_ARGUMENT; }
        else if (k == 6) { reqs[i] = (struct request){op, 0, 0, {0x100000, h, 16, 16384}}; a_want[i] = OUT_OF_BOUNDS; }
        else { reqs[i] = (struct request){op, 0, 0, {0x100000, h, 0x7fffffffffffff00ull, 512}}; a_want[i] = OUT_OF_BOUNDS; }
    }
    a_batch(n, 0);
}

static void attack_handles(void) {
    u64 own = a_buf[0] >> 48;
    int n = qsize / 2;
    for (int i = 0; i < n; i++) {
        u64 tag;
        do tag = (i & 3) == 3 ? own : ((i & 1) ? 1 + a_random() % 64 : (own + 1 + a_random() % 3) & 0xffff);
        while (tag == 0 || (tag == own && (i & 3) != 3));
        u64 h = tag << 48 | (1 + a_random() % 4) << 24 | (a_random() % 8);
        if (h == a_buf[0] || h == a_buf[1]) h ^= 1ull << 47; /* never one of this vGPU's own live handles */
        switch (i % 4) {
        case 0: reqs[i] = (struct request){COPY_IN, 0, 0, {0x100000, h, 0, 64}}; break;
        case 1: reqs[i] = (struct request){FREE, 0, 0, {h}}; break;
        case 2: reqs[i] = (struct request){LAUNCH, SAXPY, 0, {16, 0x40000000, h, a_buf[1]}}; break;
        default: reqs[i] = (struct request){LAUNCH, COPY, 0, {64, a_buf[0], h}}; break;
        }
        a_want[i] = BAD_HANDLE;
    }
    a_batch(n, 0);
}

static void attack_quota(void) {
    reqs[0] = (struct request){ALLOC, 0, 0, {a_quota + 1}}; a_want[0] = OUT_OF_MEMORY;
    reqs[1] = (struct request){ALLOC, 0, 0, {0x7fffffffffffffffull}}; a_want[1] = OUT_OF_MEMORY;
    reqs[2] = (struct request){ALLOC, 0, 0, {0}}; a_want[2] = BAD_ARGUMENT;
    reqs[3] = (struct request){ALLOC, 0, 0, {~0ull}}; a_want[3] = BAD_ARGUMENT;
    if (a_batch(4, 0)) return;
    /*
     * Allocations up to the limit, then past it: every 8th time (the 2nd first) 1-byte ones (256 bytes each on the
     * device) up to the quota or the table of 4096 handles, whichever comes first; else 64 KiB ones up to the quota.
     */
    static u64 sweeps;
    u64 size = sweeps++ % 8 == 1 ? 1 : 65536, unit = size == 1 ? 256 : size;
    u64 limit = a_quota < 2 * 16384 ? 0 : (a_quota - 2 * 16384) / unit;
    if (limit > 4096 - 2) limit = 4096 - 2;
    u64 made = 0, n = qsize / 2;
    for (u64 sent = 0; sent < limit + n; sent += n) {
        for (u64 i = 0; i < n; i++) {
            reqs[i] = (struct request){ALLOC, 0, 0, {size}};
            a_want[i] = sent + i < limit ? OK : OUT_OF_MEMORY;
        }
        u64 res[QSIZE / 2];
        if (a_batch((int)n, res)) return;
        for (u64 i = 0; i < n; i++) if (sent + i < limit) a_small[made++] = res[i];
    }
    for (u64 done = 0; done < made; ) {
        u64 k = made - done < n ? made - done : n;
        for (u64 i = 0; i < k; i++) { reqs[i] = (struct request){FREE, 0, 0, {a_small[done + i]}}; a_want[i] = OK; }
        if (a_batch((int)k, 0)) return;
        done += k;
    }
    reqs[0] = (struct request){FREE, 0, 0, {a_small[0]}}; a_want[0] = BAD_HANDLE;
    a_batch(1, 0);
}

static void attack_flood(void) {
    for (int i = 0; i < 200; i++) wr(R_QUEUE_NOTIFY, 0);
    for (int i = 0; i < 20; i++) wr(R_QUEUE_NOTIFY, 7 + (u32)i * 1000);
    acount[a_cur].sent += 220;
    if (rd(R_STATUS) & ST_NEEDS_RESET) { a_unexpected("notifications broke the device", 1, 0); a_setup(); return; }
    acount[a_cur].ok += 220;
    /* One new chain per notification, as many in flight as the queue takes; reaped as they come back. */
    int n = qsize / 2, inflight = 0;
    for (int i = 0; i < 96 || inflight; ) {
        if (i < 96 && inflight < n) {
            int s = i % n;
            reqs[s] = (struct request){(i & 1) ? FENCE : 99, 0, (u64)s, {0}};
            a_want[s] = (i & 1) ? OK : BAD_OP;
            post(s);
            kick();
            i++, inflight++;
            continue;
        }
        int s = a_reap();
        if (s < 0) { a_unexpected("the device broke on a flood of chains", 1, 0); a_setup(); return; }
        inflight--;
        acount[a_cur].sent++;
        if (cpls[s].status != a_want[s]) a_unexpected("status", cpls[s].status, a_want[s]);
        else if (cpls[s].status == OK) acount[a_cur].ok++;
        else acount[a_cur].errors++;
    }
}

static void attack_noreap(void) {
    int n = qsize / 2;
    for (int i = 0; i < n; i++) { reqs[i] = (struct request){LAUNCH, SPIN, (u64)i, {1000}}; post(i); }
    kick();
    /* Completions are never read: used.idx is only watched, to repost the same chains as they come back. */
    for (int round = 0; round < 2; round++) {
        for (u32 spins = 0; (u16)(*(volatile u16 *)&used.idx - used_seen) < (u16)n; spins++) {
            __asm__ volatile("pause");
            if ((spins & 0xffff) != 0xffff) continue;
            wr(R_QUEUE_NOTIFY, 0); /* nothing new: notifications the device must shrug off */
            if (rd(R_STATUS) & ST_NEEDS_RESET) { a_unexpected("broke before the queue was overfilled", 1, 0); a_setup(); return; }
        }
        used_seen = (u16)(used_seen + n);
        acount[a_cur].sent += (u64)n; /* counted once seen done */
        acount[a_cur].ok += (u64)n;
        for (int i = 0; i < n; i++) post(i);
        kick();
    }
    /* Overfill: the same chains again and again without waiting: more in flight than the queue holds. */
    for (int i = 0; i < 4 && !(rd(R_STATUS) & ST_NEEDS_RESET); i++) {
        for (int k = 0; k < n; k++) post(k);
        kick();
    }
    u32 st = rd(R_STATUS);
    acount[a_cur].sent++;
    if (st & ST_NEEDS_RESET) acount[a_cur].broken++;
    else a_unexpected("overfilling the queue did not break the device", st, ST_NEEDS_RESET | 0xf);
    a_setup();
}

static void attack_reset(void) {
    for (int i = 0; i < 4; i++) {
        reqs[0] = (struct request){LAUNCH, SPIN, 0, {100000}};
        post(0);
        kick();
        int slot = a_reap();
        acount[a_cur].sent++;
        if (slot < 0) { a_unexpected("the device broke on a valid kernel", 1, 0); a_setup(); return; }
        if (cpls[slot].status == OK) acount[a_cur].ok++;
        else a_unexpected("status", cpls[slot].status, OK);
        a_setup(); /* the reset, the moment its kernel is done */
    }
}

static void a_report(u64 round) {
    puts_("attack: round "); putdec(round); puts_("\n");
    for (int a = 0; a < A_COUNT; a++) {
        if (!acount[a].sent) continue;
        puts_("attack "); puts_(attack_names[a]); puts_(": sent="); putdec(acount[a].sent);
        puts_(" errors="); putdec(acount[a].errors); puts_(" broken="); putdec(acount[a].broken);
        puts_(" ok="); putdec(acount[a].ok); puts_(" unexpected="); putdec(acount[a].unexpected);
        puts_(" mcycles="); putdec(acount[a].cycles / 1000000); puts_("\n");
    }
}

static void __attribute__((noreturn)) attack_run(const char *list) {
    static void (*const run[A_COUNT])(void) = {attack_descriptors, attack_ring, attack_addresses, attack_handles,
                                               attack_quota, attack_flood, attack_noreap, attack_reset};
    int chosen[A_COUNT], n = 0;
    while (*list && *list != ' ' && n < A_COUNT) {
        int a = 0;
        while (a < A_COUNT && !word_is(list, attack_names[a])) a++;
        if (a == A_COUNT) { puts_("attack: unknown attack; use attack=descriptors,ring,addresses,handles,quota,flood,noreap,reset\n"); debug_exit(0x32); }
        chosen[n++] = a;
        while (*list && *list != ',' && *list != ' ') list++;
        if (*list == ',') list++;
    }
    a_quota = (u64)rd(R_CONFIG) | (u64)rd(R_CONFIG + 4) << 32;
    puts_("attack: hostile driver, "); putdec((u64)n); puts_(" attacks, until the VMM stops it\n");
    a_setup();
    u64 progress = 0;
    for (u64 round = 1;; round++) {
        for (int i = 0; i < n; i++) {
            a_cur = chosen[i];
            u64 t0 = tsc_now();
            run[a_cur]();
            acount[a_cur].cycles += tsc_now() - t0;
            puts_("attack: progress "); putdec(++progress); puts_("\n");
        }
        a_report(round);
    }
}
/* ---- end of attack=LIST ---- */

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
 * With wait=irq, the loop waits for completions as cmain's does, halted until the device's interrupt. */
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
static void stats_loop(u64 every, u64 requests, u64 depth, u64 *posted, u64 *completed, u64 *errors, u64 *gpu_ns,
                       u64 *saxpys) {
    if (every < 1) every = 1;
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
        int s = reap();
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

    int slot = -1;
    for (int i = 0; i < MMIO_SLOTS && !mmio; i++) {
        volatile u32 *m = (volatile u32 *)(unsigned long)(MMIO_BASE + (u64)i * MMIO_STRIDE);
        if (m[R_MAGIC / 4] == 0x74726976 && m[R_VERSION / 4] == 2 && m[R_DEVICE_ID / 4] == VGPU_ID) mmio = m, slot = i;
    }
    if (!mmio) { puts_("vgpu: no isthmus-vgpu (virtio device 63) on the virtio-mmio transports\n"); debug_exit(0x32); }
    puts_("vgpu: found at "); puthex((u64)(unsigned long)mmio); puts_("\n");

    wr(R_STATUS, 0);
    wr(R_STATUS, 1);
    wr(R_STATUS, 3);
    wr(R_DEVICE_FEATURES_SEL, 1);
    if (!(rd(R_DEVICE_FEATURES) & 1)) { puts_("vgpu: no VERSION_1\n"); debug_exit(0x32); }
    accept_version_1();
    wr(R_STATUS, 3 | 8);
    if (!(rd(R_STATUS) & 8)) { puts_("vgpu: FEATURES_OK refused\n"); debug_exit(0x32); }
    wr(R_QUEUE_SEL, 0);
    u32 max = rd(R_QUEUE_NUM_MAX);
    qsize = max < QSIZE ? (int)max : QSIZE;
    queue_addresses();
    const char *w = option("wait");
    irq_mode = w && word_is(w, "irq");
    if (irq_mode) irq_setup(slot);
    avail.flags = irq_mode ? 0 : 1; /* VRING_AVAIL_F_NO_INTERRUPT when polling */
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
    if (option("attack")) attack_run(option("attack"));

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
