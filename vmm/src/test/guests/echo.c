/* Serial input, polled: prints "ready", then for each byte received on COM1 prints "got <hex>"; 'q' ends it. */
#include "guest.h"
__attribute__((section(".multiboot"), used, aligned(4))) const u32 mbh[3] = {0x1BADB002u, 3, -(0x1BADB002u + 3)};
__asm__(".globl _start\n_start:\n  mov $stack_top, %esp\n  call cmain\n1: cli; hlt; jmp 1b\n"
        ".section .bss\n.align 16\n  .space 4096\nstack_top:\n.text\n");
void cmain(void) {
    puts_("ready\n");
    for (;;) {
        while (!(inb(COM1 + 5) & 0x01)) { }
        u8 c = inb(COM1);
        puts_("got ");
        puthex(c);
        puts_("\n");
        if (c == 'q') {
            debug_exit(0x21);
        }
    }
}
