/*
 * A guest driver for QEMU's edu device (docs/specs/edu.rst) passed through with -device vfio-pci: a 64-bit guest that
 * finds edu (1234:11e8) by scanning the ECAM of -M microvm,pcie=on, places BAR0 itself in the 32-bit window (nothing
 * places BARs before the guest runs, as under QEMU's microvm), enables memory decoding and bus mastering, programs
 * edu's MSI capability for a vector of its own IDT, and then uses the device as on bare metal:
 *   - the identification register (0x010000ed) and the liveness register (bitwise NOT);
 *   - a factorial computed by the device through MMIO, completion signalled by MSI (counted by the handler) and
 *     checked in the status register;
 *   - DMA through its own RAM: a pattern from one buffer into edu's DMA buffer, and back into a second buffer, the
 *     second completion again signalled by MSI; the buffers are compared.
 * With "escape" on the command line (-append) it then programs a DMA to an address outside its RAM (0x0c000000,
 * below edu's 28-bit DMA mask, above the test's 64 MiB of RAM), which the IOMMU must stop, and prints what came back.
 * With "reset" it does everything twice, with a system reset between (microvm's ACPI reset register, 0x42 at
 * 0xfea00202, as the FADT gives it to Linux; a CMOS RAM byte, which survives
 * the reset, tells the second boot from the first): the device must work again after the VMM's reset of it.
 * With "hold" it stops after the driver's checks with BAR0 still placed and decoding ("holding"), until the host
 * ends the VM (QMP quit): the host's view of the device (query-pci) while the guest uses it.
 * Each result is a line on COM1; it leaves through isa-debug-exit (0xf4) with 0x51 when all passed, 0x52 when not.
 *
 * Booted as a PVH ELF64: the entry stub (pvh64.h) identity-maps the first 4 GiB with 2 MiB pages (ECAM, the 32-bit
 * window and the LAPIC are all below 4 GiB) and calls cmain in 64-bit mode.
 */
#include "guest.h"

#include "pvh64.h"

#define ECAM 0xe0000000ull
#define MMIO32 0xc0000000ull
#define LAPIC 0xfee00000ull
#define VECTOR 0x51
#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
/* edu's registers (docs/specs/edu.rst) */
#define ID 0x00
#define LIVENESS 0x04
#define FACTORIAL 0x08
#define STATUS 0x20
#define IRQ_STATUS 0x24
#define IRQ_ACK 0x64
#define DMA_SRC 0x80
#define DMA_DST 0x88
#define DMA_COUNT 0x90
#define DMA_CMD 0x98
#define DMA_BUFFER 0x40000
#define DMA_LEN 2048
#define ESCAPE 0x0c000000ull

static u32 cfg32(u32 devfn, u32 reg) { return *(volatile u32 *)(ECAM + ((u64)devfn << 12) + reg); }
static u32 cfg16(u32 devfn, u32 reg) { return *(volatile u16 *)(ECAM + ((u64)devfn << 12) + reg); }
static u32 cfg8(u32 devfn, u32 reg) { return *(volatile u8 *)(ECAM + ((u64)devfn << 12) + reg); }
static void wcfg32(u32 devfn, u32 reg, u32 v) { *(volatile u32 *)(ECAM + ((u64)devfn << 12) + reg) = v; }
static void wcfg16(u32 devfn, u32 reg, u32 v) { *(volatile u16 *)(ECAM + ((u64)devfn << 12) + reg) = (u16)v; }

static volatile u32 *bar0;
static u32 rd(u32 reg) { return bar0[reg / 4]; }
static void wr(u32 reg, u32 v) { bar0[reg / 4] = v; }
static void wr64(u32 reg, u64 v) { *(volatile u64 *)((volatile u8 *)bar0 + reg) = v; }

/* Interrupts: vector VECTOR counts and EOIs; an exception ends the guest with 0x52. */
volatile u32 irqs;
static u64 idt[512] __attribute__((aligned(16)));
void irq_handler(void);
void exc_handler(void);
__asm__(".globl irq_handler\nirq_handler:\n  push %rax\n  lock incl irqs(%rip)\n  mov $0xfee000b0, %eax\n"
        "  movl $0, (%rax)\n  pop %rax\n  iretq\n"
        ".globl exc_handler\nexc_handler:\n  and $-16, %rsp\n  call exception\n");
void exception(void) { puts_("unexpected exception\n"); debug_exit(0x52); }
static void gate(int v, void (*h)(void)) {
    u64 a = (u64)h;
    idt[2 * v] = (a & 0xffff) | (0x08ull << 16) | (0x8e00ull << 32) | ((a >> 16 & 0xffff) << 48);
    idt[2 * v + 1] = a >> 32;
}
static void interrupts(void) {
    for (int v = 0; v < 32; v++) gate(v, exc_handler);
    gate(VECTOR, irq_handler);
    struct __attribute__((packed)) { u16 limit; u64 base; } d = {sizeof idt - 1, (u64)idt};
    __asm__ volatile("lidt %0" : : "m"(d));
    *(volatile u32 *)(LAPIC + 0xf0) = 0x1ff; /* software-enabled, spurious vector 0xff */
    *(volatile u32 *)(LAPIC + 0x80) = 0;     /* accept every priority */
}
/* Lets interrupts in until one more than `before` arrived, or a while passed; returns how many arrived. */
static u32 wait_irq(u32 before) {
    __asm__ volatile("sti");
    for (u64 i = 0; i < 200000000ull && irqs == before; i++) __asm__ volatile("pause");
    __asm__ volatile("cli");
    return irqs - before;
}
/* Polls edu's DMA command register until the run bit clears; returns 0 on time-out. */
static int wait_dma(void) {
    for (u64 i = 0; i < 400000000ull; i++) {
        if (!(rd(DMA_CMD) & 1)) return 1;
        __asm__ volatile("pause");
    }
    return 0;
}

static u8 src[DMA_LEN] __attribute__((aligned(4096)));
static u8 dst[DMA_LEN] __attribute__((aligned(4096)));
static int failed;
static void check(const char *what, int ok) {
    puts_(what); puts_(ok ? ": ok\n" : ": FAILED\n");
    if (!ok) failed = 1;
}

static int has_word(const char *s, const char *w) {
    for (; s && *s; s++) {
        const char *a = s, *b = w;
        while (*b && *a == *b) { a++; b++; }
        if (!*b && (*a == 0 || *a == ' ')) return 1;
        while (*s && *s != ' ') s++;
        if (!*s) break;
    }
    return 0;
}

#define CMOS_MARK 0x40 /* a CMOS RAM byte: 0xa5 once the first boot of a "reset" run is done */
static u8 cmos(u8 reg) { outb(0x70, reg); return inb(0x71); }
static void cmos_w(u8 reg, u8 v) { outb(0x70, reg); outb(0x71, v); }

void cmain(void) {
    puts_("edu guest\n");
    struct hvm_start_info *si = (struct hvm_start_info *)(u64)start_info;
    const char *cmdline = si && si->magic == 0x336ec578 && si->cmdline_paddr ? (const char *)si->cmdline_paddr : "";
    int reset = has_word(cmdline, "reset"), second = reset && cmos(CMOS_MARK) == 0xa5;
    if (second) puts_("after the reset\n");
    failed = 0;
    u32 devfn = 0x100;
    for (u32 d = 0; d < 256; d += 8) {
        u32 id = cfg32(d, 0);
        if ((id & 0xffff) == EDU_VENDOR && id >> 16 == EDU_DEVICE) { devfn = d; break; }
    }
    if (devfn == 0x100) { puts_("no edu (1234:11e8) on the PCI bus\n"); debug_exit(0x52); }
    puts_("edu at 00:"); putc_("0123456789abcdef"[devfn >> 7]); putc_("0123456789abcdef"[(devfn >> 3) & 15]);
    putc_('.'); putc_((char)('0' + (devfn & 7)));
    puts_(" class="); puthex(cfg32(devfn, 8) >> 8); puts_("\n");
    /* Size BAR0 with decoding off, as a driver does. */
    wcfg16(devfn, 0x04, 0);
    wcfg32(devfn, 0x10, 0xffffffffu);
    u32 mask = cfg32(devfn, 0x10);
    u32 size = ~(mask & ~0xfu) + 1;
    puts_("bar0 size="); puthex(size); puts_(" type="); puthex(mask & 0xf); puts_("\n");
    wcfg32(devfn, 0x10, (u32)MMIO32);
    wcfg16(devfn, 0x04, 0x6); /* memory, bus master */
    bar0 = (volatile u32 *)MMIO32;
    puts_("bar0 at "); puthex(cfg32(devfn, 0x10) & ~0xfu); puts_(" command="); puthex(cfg16(devfn, 4)); puts_("\n");

    u32 id = rd(ID);
    puts_("id="); puthex(id); puts_("\n");
    check("identification", id == 0x010000ed);
    wr(LIVENESS, 0x12345678u);
    check("liveness", rd(LIVENESS) == ~0x12345678u);

    /* MSI: the first capability with id 5 */
    u32 msi = 0;
    for (u32 at = cfg8(devfn, 0x34), n = 0; at && n < 48; at = cfg8(devfn, at + 1), n++)
        if (cfg8(devfn, at) == 0x05) { msi = at; break; }
    puts_("msi capability at "); puthex(msi); puts_("\n");
    interrupts();
    if (msi) {
        u32 ctl = cfg16(devfn, msi + 2);
        wcfg32(devfn, msi + 4, (u32)LAPIC);
        if (ctl & 0x80) {
            wcfg32(devfn, msi + 8, 0);
            wcfg16(devfn, msi + 12, VECTOR);
        } else {
            wcfg16(devfn, msi + 8, VECTOR);
        }
        wcfg16(devfn, msi + 2, (ctl & ~0x70u) | 1); /* one vector, enabled */
        puts_("msi control="); puthex(cfg16(devfn, msi + 2)); puts_("\n");
    }

    /* The factorial, completion by MSI */
    u32 before = irqs;
    wr(STATUS, 0x80);
    wr(FACTORIAL, 10);
    u32 got = wait_irq(before);
    for (u64 i = 0; i < 100000000ull && (rd(STATUS) & 1); i++) __asm__ volatile("pause");
    u32 f = rd(FACTORIAL), st = rd(IRQ_STATUS);
    puts_("factorial 10!="); putdec(f); puts_(" msi="); putdec(got); puts_(" irq_status="); puthex(st); puts_("\n");
    check("factorial", f == 3628800);
    check("factorial msi", got >= 1 && (st & 1));
    wr(IRQ_ACK, st);
    wr(STATUS, 0);

    /* DMA: src -> edu's buffer -> dst; the second transfer raises an MSI. */
    for (u32 i = 0; i < DMA_LEN; i++) { src[i] = (u8)(i * 7 + 3); dst[i] = 0; }
    wr64(DMA_SRC, (u64)src);
    wr64(DMA_DST, DMA_BUFFER);
    wr64(DMA_COUNT, DMA_LEN);
    wr(DMA_CMD, 1);
    int ok1 = wait_dma();
    before = irqs;
    wr64(DMA_SRC, DMA_BUFFER);
    wr64(DMA_DST, (u64)dst);
    wr64(DMA_COUNT, DMA_LEN);
    wr(DMA_CMD, 1 | 2 | 4);
    int ok2 = wait_dma();
    got = wait_irq(before);
    st = rd(IRQ_STATUS);
    u32 same = 1;
    for (u32 i = 0; i < DMA_LEN; i++) if (dst[i] != src[i]) { same = 0; break; }
    puts_("dma "); putdec(DMA_LEN); puts_(" bytes at "); puthex((u64)src); puts_(" -> edu -> "); puthex((u64)dst);
    puts_(": done="); putdec(ok1 && ok2); puts_(" equal="); putdec(same); puts_(" msi="); putdec(got);
    puts_(" irq_status="); puthex(st); puts_("\n");
    check("dma", ok1 && ok2 && same);
    check("dma msi", got >= 1 && (st & 0x100));
    wr(IRQ_ACK, st);

    if (has_word(cmdline, "escape")) {
        /* Outside guest RAM: the IOMMU has no mapping there, so the device's write must go nowhere. */
        wr64(DMA_SRC, DMA_BUFFER);
        wr64(DMA_DST, ESCAPE);
        wr64(DMA_COUNT, DMA_LEN);
        wr(DMA_CMD, 1 | 2);
        int done = wait_dma();
        puts_("escape dma to "); puthex(ESCAPE); puts_(": done="); putdec(done); puts_("\n");
        /* The device still works after the fault. */
        wr(LIVENESS, 0x5a5a5a5au);
        check("after escape", rd(LIVENESS) == ~0x5a5a5a5au);
    }
    if (has_word(cmdline, "hold")) {
        /* BAR0 stays placed and decoding for the host to look at (QMP query-pci), until it ends the VM. */
        puts_(failed ? "edu guest FAILED\n" : "holding\n");
        for (;;) __asm__ volatile("cli; hlt");
    }
    wcfg16(devfn, 0x04, 0);
    puts_(failed ? "edu guest FAILED\n" : "edu guest passed\n");
    if (reset && !second && !failed) {
        cmos_w(CMOS_MARK, 0xa5);
        puts_("resetting\n");
        *(volatile u8 *)0xfea00202ull = 0x42;
        for (;;) __asm__ volatile("cli; hlt");
    }
    if (second) cmos_w(CMOS_MARK, 0);
    debug_exit(failed ? 0x52 : 0x51);
}
