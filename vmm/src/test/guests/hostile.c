/*
 * A hostile guest: writes and reads random values of random sizes at random I/O ports and random MMIO addresses
 * outside RAM, for the count given on the command line ("n=COUNT"), then reports and exits with 0x21. It spares
 * only what would end or reset it by design: isa-debug-exit (0xf4), the i8042 and ACPI reset/power-off
 * registers, the local APIC and IOAPIC (an INIT IPI to itself), and COM1 (to keep the output readable).
 */
#include "guest.h"
__attribute__((section(".multiboot"), used, aligned(4))) const u32 mbh[3] = {0x1BADB002u, 3, -(0x1BADB002u + 3)};
u32 boot_ebx;
__asm__(".globl _start\n_start:\n  mov %ebx, boot_ebx\n  mov $stack_top, %esp\n  call cmain\n1: cli; hlt; jmp 1b\n"
        ".section .bss\n.align 16\n  .space 8192\nstack_top:\n.text\n");

static u32 state = 2463534242u;
static u32 rnd(void) { state ^= state << 13; state ^= state >> 17; state ^= state << 5; return state; }
static inline void outw(u16 p, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(p)); }
static inline u16 inw(u16 p) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline u32 inl(u16 p) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }

static int spared_port(u32 p) {
    return (p >= 0xf4 && p <= 0xf7) || p == 0x64 || p == 0x60 || (p >= 0x3f8 && p <= 0x3ff) || p == 0xcf9 || p == 0x92
        || (p >= 0x20 && p <= 0x21) || (p >= 0xa0 && p <= 0xa1) || (p >= 0x40 && p <= 0x43) || p == 0x4d0 || p == 0x4d1;
}

void cmain(void) {
    const char *cmd = (const char *)((u32 *)boot_ebx)[4];
    u32 n = 0;
    for (const char *c = cmd; *c; c++) {
        if (c[0] == 'n' && c[1] == '=') { for (c += 2; *c >= '0' && *c <= '9'; c++) n = n * 10 + (u32)(*c - '0'); break; }
    }
    puts_("hostile guest: "); putdec(n); puts_(" random accesses\n");
    u32 done = 0;
    while (done < n) {
        u32 r = rnd(), v = rnd();
        if (r & 1) {
            u16 port = (u16)(rnd() & 0xffff);
            if (spared_port(port)) continue;
            switch ((r >> 1) % 6) {
                case 0: outb(port, (u8)v); break;
                case 1: outw(port, (u16)v); break;
                case 2: outl(port, v); break;
                case 3: (void)inb(port); break;
                case 4: (void)inw(port); break;
                default: (void)inl(port); break;
            }
        } else {
            u32 a = 0x10000000u + (rnd() % 0xe0000000u);   /* above the 128 MiB of RAM, below 4 GiB */
            if (a >= 0xfea00000u && a < 0xfea01000u) continue;   /* ACPI sleep/reset */
            if (a >= 0xfec00000u) continue;                        /* IOAPIC, LAPIC, firmware */
            a &= ~3u;
            if (r & 2) *(volatile u32 *)a = v; else (void)*(volatile u32 *)a;
        }
        done++;
    }
    puts_("survived "); putdec(done); puts_(" accesses\nbye\n");
    debug_exit(0x21);
}
