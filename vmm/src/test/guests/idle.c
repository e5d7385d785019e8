/* Idles for QMP tests: prints "ready", then halts with interrupts off until the VMM is told what to do. */
#include "guest.h"
__attribute__((section(".multiboot"), used, aligned(4))) const u32 mbh[3] = {0x1BADB002u, 3, -(0x1BADB002u + 3)};
__asm__(".globl _start\n_start:\n  mov $stack_top, %esp\n  call cmain\n1: cli; hlt; jmp 1b\n"
        ".section .bss\n.align 16\n  .space 4096\nstack_top:\n.text\n");
void cmain(void) {
    puts_("ready\n");
    for (;;) __asm__ volatile("cli; hlt");
}
