/* Resets itself forever, for the machine's race tests: each boot prints "b" (a serial exit, so the output grows
   while a vCPU runs), then asks the i8042 for a reset (outb 0xfe to port 0x64), so that the machine spends most of
   its time resetting. A paused machine prints nothing: the output's length is how a test sees a vCPU ran. */
#include "guest.h"
__attribute__((section(".multiboot"), used, aligned(4))) const u32 mbh[3] = {0x1BADB002u, 3, -(0x1BADB002u + 3)};
__asm__(".globl _start\n_start:\n  mov $stack_top, %esp\n  call cmain\n1: cli; hlt; jmp 1b\n"
        ".section .bss\n.align 16\n  .space 4096\nstack_top:\n.text\n");
void cmain(void) {
    putc_('b');
    outb(0x64, 0xfe);
    for (;;) __asm__ volatile("cli; hlt");
}
