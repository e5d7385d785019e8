/*
 * Sees the PCI Express bus of -M microvm,pcie=on as a guest without firmware help sees it, and prints it so the two
 * VMMs can be compared: the guest-physical address width (which sizes the 64-bit window), ECAM at 0xe0000000 found
 * empty or not, every function on bus 0, the host bridge's whole configuration space, what its registers keep of
 * all-ones writes, accesses of each size, unaligned ones, absent functions and other buses.
 *
 * With an isthmus-testdev on the bus (this VMM only) it goes on as a driver would: sizes the BARs, walks the
 * capabilities, places BAR0 in the 32-bit window and BAR2 at the base of the 64-bit one (the top quarter of the
 * physical space, reached through a PAE 2 MiB page), reads registers and both ends of BAR2, moves BAR0, programs
 * MSI-X entry 0 and takes the interrupt, then masks it and finds it pending, and unmasks it to take it again.
 * Exits with 0x21.
 */
#include "guest.h"
__attribute__((section(".multiboot"), used, aligned(4))) const u32 mbh[3] = {0x1BADB002u, 3, -(0x1BADB002u + 3)};
__asm__(".globl _start\n_start:\n  mov $stack_top, %esp\n  call cmain\n1: cli; hlt; jmp 1b\n"
        ".section .bss\n.align 16\n  .space 8192\nstack_top:\n.text\n");

#define ECAM 0xe0000000u
#define MMIO32 0xc0000000u
#define LAPIC 0xfee00000u
#define VECTOR 0x41

static volatile u32 *cfg32(u32 bdf, u32 reg) { return (volatile u32 *)(ECAM + (bdf << 12) + reg); }
static u32 rd32(u32 bdf, u32 reg) { return *cfg32(bdf, reg); }
static u32 rd16(u32 bdf, u32 reg) { return *(volatile u16 *)(ECAM + (bdf << 12) + reg); }
static u32 rd8(u32 bdf, u32 reg) { return *(volatile u8 *)(ECAM + (bdf << 12) + reg); }
static void wr32(u32 bdf, u32 reg, u32 v) { *cfg32(bdf, reg) = v; }
static void wr16(u32 bdf, u32 reg, u32 v) { *(volatile u16 *)(ECAM + (bdf << 12) + reg) = (u16)v; }
static void wr8(u32 bdf, u32 reg, u32 v) { *(volatile u8 *)(ECAM + (bdf << 12) + reg) = (u8)v; }
static u32 mmio(u32 a) { return *(volatile u32 *)a; }
static void mmio_w(u32 a, u32 v) { *(volatile u32 *)a = v; }

static void hex8(u32 v) { for (int i = 28; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 15]); }
static void put_bdf(u32 bdf) {
    static const char h[] = "0123456789abcdef";
    u32 bus = bdf >> 8, dev = (bdf >> 3) & 31, fn = bdf & 7;
    putc_(h[bus >> 4]); putc_(h[bus & 15]); putc_(':'); putc_(h[dev >> 4]); putc_(h[dev & 15]); putc_('.');
    putc_(h[fn]);
}

/* PAE paging: 4 GiB identity-mapped with 2 MiB pages, and one movable 2 MiB window at 0xbfe00000. */
static u64 pdpt[4] __attribute__((aligned(32)));
static u64 pd[4][512] __attribute__((aligned(4096)));
#define WINDOW 0xbfe00000u
static void paging(void) {
    for (u32 i = 0; i < 4; i++) {
        pdpt[i] = (u32)pd[i] | 1;
        for (u32 j = 0; j < 512; j++) pd[i][j] = ((u64)(i * 512 + j) << 21) | (i == 3 ? 0x9b : 0x83);
    }
    u32 cr;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr)); cr |= 0x20; __asm__ volatile("mov %0, %%cr4" : : "r"(cr));
    __asm__ volatile("mov %0, %%cr3" : : "r"((u32)pdpt));
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr)); cr |= 0x80000000u; __asm__ volatile("mov %0, %%cr0" : : "r"(cr));
}
/* Maps the 2 MiB page holding physical address pa at WINDOW; returns pa's virtual address. */
static volatile u32 *map(u64 pa) {
    pd[2][511] = (pa & ~0x1fffffull) | 0x9b;
    __asm__ volatile("invlpg (%0)" : : "r"(WINDOW) : "memory");
    return (volatile u32 *)(WINDOW + (u32)(pa & 0x1fffff));
}

/* Interrupts: an IDT whose vector VECTOR counts and EOIs; every exception ends the guest with 0x2f. */
static volatile u32 irqs;
static u64 idt[256];
void irq_handler(void);
void exc_handler(void);
__asm__(".globl irq_handler\nirq_handler:\n  pushal\n  incl irqs\n  movl $0, 0xfee000b0\n  popal\n  iret\n"
        ".globl exc_handler\nexc_handler:\n  mov $stack_top, %esp\n  call exception\n");
void exception(void) { puts_("unexpected exception\n"); debug_exit(0x2f); }
static void gate(int v, void (*h)(void)) {
    u32 cs; __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    u32 a = (u32)h;
    idt[v] = (a & 0xffff) | ((u64)cs << 16) | ((u64)0x8e00 << 32) | ((u64)(a >> 16) << 48);
}
static void interrupts(void) {
    for (int v = 0; v < 32; v++) gate(v, exc_handler);
    gate(VECTOR, irq_handler);
    struct __attribute__((packed)) { u16 limit; u32 base; } d = {sizeof idt - 1, (u32)idt};
    __asm__ volatile("lidt %0" : : "m"(d));
    mmio_w(LAPIC + 0xf0, 0x1ff); /* software-enabled, spurious vector 0xff */
    mmio_w(LAPIC + 0x80, 0);     /* accept every priority */
}
/* Lets interrupts in for a while; returns how many arrived. */
static u32 wait_irqs(u32 before) {
    __asm__ volatile("sti");
    for (u32 i = 0; i < 2000000 && irqs == before; i++) __asm__ volatile("pause");
    __asm__ volatile("cli");
    return irqs - before;
}

static void testdev(u32 bdf, u32 physbits) {
    puts_("testdev "); put_bdf(bdf); puts_("\n");
    u32 size[6], type[6];
    wr16(bdf, 0x04, 0);
    for (u32 i = 0; i < 6; i++) {
        u32 r = 0x10 + 4 * i, old = rd32(bdf, r);
        wr32(bdf, r, 0xffffffffu);
        size[i] = rd32(bdf, r);
        wr32(bdf, r, old);
        type[i] = old & 0xf;
    }
    puts_("bar0 mask="); puthex(size[0]); puts_(" type="); puthex(type[0]); puts_("\n");
    u64 mask2 = ((u64)size[3] << 32) | (size[2] & ~0xfu);
    u64 bar2size = ~mask2 + 1;
    puts_("bar2 size="); puthex(bar2size); puts_(" type="); puthex(type[2]); puts_("\n");
    puts_("caps:");
    for (u32 at = rd8(bdf, 0x34), n = 0; at && n < 16; at = rd8(bdf, at + 1), n++) {
        puts_(" "); puthex(rd8(bdf, at)); puts_("@"); puthex(at);
    }
    puts_("\n");
    u64 mmio64 = 3ull << (physbits - 2);
    wr32(bdf, 0x10, MMIO32);
    wr32(bdf, 0x18, (u32)mmio64);
    wr32(bdf, 0x1c, (u32)(mmio64 >> 32));
    puts_("before decoding: id="); puthex(mmio(MMIO32)); puts_("\n");
    wr16(bdf, 0x04, 0x6); /* memory, bus master */
    puts_("id="); puthex(mmio(MMIO32)); puts_(" membar="); puthex(((u64)mmio(MMIO32 + 0xc) << 32) | mmio(MMIO32 + 8));
    puts_(" vectors="); puthex(mmio(MMIO32 + 0x1c)); puts_("\n");
    mmio_w(MMIO32 + 4, 0x12345678u);
    puts_("scratch="); puthex(mmio(MMIO32 + 4)); puts_("\n");
    puts_("bar2 at "); puthex(mmio64); puts_(": first page="); puthex(*map(mmio64));
    puts_(" last page="); puthex(*map(mmio64 + bar2size - 4)); puts_(" past the end="); puthex(*map(mmio64 + bar2size));
    puts_("\n");
    wr32(bdf, 0x10, MMIO32 + 0x100000);
    puts_("bar0 moved: old="); puthex(mmio(MMIO32)); puts_(" new="); puthex(mmio(MMIO32 + 0x100000)); puts_("\n");
    u32 bar0 = MMIO32 + 0x100000, table = bar0 + 0x2000, pba = bar0 + 0x3000;
    u32 msix = 0;
    for (u32 at = rd8(bdf, 0x34); at; at = rd8(bdf, at + 1)) if (rd8(bdf, at) == 0x11) msix = at;
    interrupts();
    wr16(bdf, msix + 2, 0xc000); /* enabled, function masked: as Linux programs it */
    mmio_w(table + 0, LAPIC);
    mmio_w(table + 4, 0);
    mmio_w(table + 8, VECTOR);
    mmio_w(table + 12, 0);
    wr16(bdf, msix + 2, 0x8000);
    puts_("msix control="); puthex(rd16(bdf, msix + 2)); puts_("\n");
    mmio_w(bar0 + 0x10, 0);
    puts_("fired: interrupts="); putdec(wait_irqs(irqs)); puts_("\n");
    mmio_w(table + 12, 1);
    mmio_w(bar0 + 0x10, 0);
    puts_("masked: interrupts="); putdec(wait_irqs(irqs)); puts_(" pba="); puthex(mmio(pba)); puts_("\n");
    u32 before = irqs;
    mmio_w(table + 12, 0);
    puts_("unmasked: interrupts="); putdec(wait_irqs(before)); puts_(" pba="); puthex(mmio(pba)); puts_("\n");
    puts_("fired count="); puthex(mmio(bar0 + 0x18)); puts_("\n");
    wr16(bdf, 0x04, 0);
    puts_("decoding off: id="); puthex(mmio(bar0)); puts_("\n");
}

void cmain(void) {
    puts_("pci guest\n");
    u32 eax, ebx, ecx, edx;
    __asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(0x80000008u), "c"(0));
    u32 physbits = eax & 0xff;
    field("physbits", physbits);
    paging();
    u32 id = rd32(0, 0);
    field("ecam 00:00.0", id);
    if (id == 0 || id == 0xffffffffu) {
        puts_("no PCI host bridge\nbye\n");
        debug_exit(0x21);
    }
    u32 found[256], n = 0;
    /* As Linux scans: function 0 of each slot, the others only behind a multi-function header (each read is an
       exit, and a slow one on the lab's nested KVM). */
    for (u32 devfn = 0; devfn < 256; devfn++) {
        u32 v = rd32(devfn, 0);
        if (v != 0xffffffffu) {
            found[n++] = devfn;
            put_bdf(devfn); puts_(" id="); puthex(v); puts_(" class="); puthex(rd32(devfn, 8));
            puts_(" header="); puthex(rd8(devfn, 0x0e)); puts_("\n");
        }
        if ((devfn & 7) == 0 && (v == 0xffffffffu || !(rd8(devfn, 0x0e) & 0x80))) devfn += 7;
    }
    puts_("host bridge config space:\n");
    for (u32 r = 0; r < 0x100; r += 16) {
        hex8(r); puts_(":");
        for (u32 i = 0; i < 16; i += 4) { puts_(" "); hex8(rd32(0, r + i)); }
        puts_("\n");
    }
    field("00:00.0 0x100", rd32(0, 0x100));
    field("00:00.0 0xffc", rd32(0, 0xffc));
    field("byte 0x00", rd8(0, 0));
    field("byte 0x03", rd8(0, 3));
    field("word 0x02", rd16(0, 2));
    field("unaligned word 0x01", rd16(0, 1));
    field("unaligned dword 0x02", rd32(0, 2));
    field("absent 00:01.0", rd32(0x08, 0));
    field("absent 00:00.1 word", rd16(0x01, 0));
    field("absent 00:1f.7 byte", rd8(0xff, 0));
    field("bus 1", *(volatile u32 *)(ECAM + (1u << 20)));
    field("bus 255 last", *(volatile u32 *)(ECAM + 0x0ffffffcu));
    puts_("all-ones writes to the host bridge:\n");
    static const u32 regs[] = {0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c, 0x20, 0x24, 0x28, 0x2c, 0x30, 0x34, 0x38,
                               0x3c, 0x40, 0x80, 0xfc};
    for (u32 i = 0; i < sizeof regs / sizeof regs[0]; i++) {
        u32 r = regs[i];
        wr32(0, r, 0xffffffffu);
        hex8(r); puts_(": "); hex8(rd32(0, r));
        wr32(0, r, 0);
        puts_(" then 0: "); hex8(rd32(0, r)); puts_("\n");
    }
    wr8(0, 0x3c, 0x5a);
    field("interrupt line byte write", rd32(0, 0x3c));
    wr16(0, 0x3d, 0xffff);
    field("unaligned word write", rd32(0, 0x3c));
    wr32(0, 0x100, 0x12345678);
    field("write past 0x100", rd32(0, 0x100));
    for (u32 i = 0; i < n; i++) {
        if (rd32(found[i], 0) == 0x7e571234u) testdev(found[i], physbits);
    }
    puts_("bye\n");
    debug_exit(0x21);
}
