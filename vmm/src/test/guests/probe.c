/*
 * Probes the machine's devices the way guests do and prints what it sees, so the VMM's answers can be compared
 * with QEMU microvm's: the UART's registers (scratch, LSR, MSR, IIR with FIFOs on and off, divisor latch), the
 * virtio-mmio transports' probe registers, the ACPI sleep registers, CPUID's APIC id; exits with 0x21.
 */
#include "guest.h"
__attribute__((section(".multiboot"), used, aligned(4))) const u32 mbh[3] = {0x1BADB002u, 3, -(0x1BADB002u + 3)};
u32 entry_regs[4];
__asm__(".globl _start\n_start:\n  mov $stack_top, %esp\n  call cmain\n1: cli; hlt; jmp 1b\n"
        ".section .bss\n.align 16\n  .space 8192\nstack_top:\n.text\n");

static u32 mmio32(u32 a) { return *(volatile u32 *)a; }

void cmain(void) {
    puts_("probe guest\n");
    outb(COM1 + 7, 0x5a);
    field("uart.scr", inb(COM1 + 7));
    field("uart.lsr", inb(COM1 + 5));
    field("uart.msr", inb(COM1 + 6));
    field("uart.lcr", inb(COM1 + 3));
    field("uart.mcr", inb(COM1 + 4));
    field("uart.ier", inb(COM1 + 1));
    field("uart.iir", inb(COM1 + 2));
    outb(COM1 + 2, 0x07);
    field("uart.iir.fifo", inb(COM1 + 2));
    outb(COM1 + 1, 0x02);
    field("uart.iir.thri", inb(COM1 + 2));
    field("uart.iir.after", inb(COM1 + 2));
    outb(COM1 + 1, 0x00);
    outb(COM1 + 2, 0x00);
    outb(COM1 + 3, 0x83);
    outb(COM1 + 0, 0x01);
    outb(COM1 + 1, 0x00);
    field("uart.dll", inb(COM1 + 0));
    field("uart.dlm", inb(COM1 + 1));
    outb(COM1 + 3, 0x03);
    field("uart.rbr.empty", inb(COM1 + 0));
    for (u32 i = 0; i < 24; i += 23) {
        u32 base = 0xfeb00000u + i * 0x200;
        puts_("virtio-mmio "); putdec(i);
        puts_(" magic="); puthex(mmio32(base)); puts_(" version="); puthex(mmio32(base + 4));
        puts_(" device="); puthex(mmio32(base + 8)); puts_(" vendor="); puthex(mmio32(base + 12)); puts_("\n");
    }
    u32 eax, ebx, ecx, edx;
    __asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(1), "c"(0));
    field("cpuid.1.apic_id", ebx >> 24);
    puts_("bye\n");
    debug_exit(0x21);
}
