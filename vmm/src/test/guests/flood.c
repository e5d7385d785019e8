/*
 * A serial flood: writes COUNT bytes ("n=COUNT") of a repeating a-z pattern to COM1 with rep outsb, then exits
 * with 0x21. "poll=1" (the default) waits for THRE before each 16 bytes, as a UART's FIFO asks (nothing is lost to
 * a slow reader, the guest slows down instead); "poll=0" writes blindly, 4 KiB per rep outsb (one exit each), as a
 * hostile guest would (a slow reader then costs dropped bytes, never a stalled vCPU).
 */
#include "guest.h"
__attribute__((section(".multiboot"), used, aligned(4))) const u32 mbh[3] = {0x1BADB002u, 3, -(0x1BADB002u + 3)};
u32 boot_ebx;
__asm__(".globl _start\n_start:\n  mov %ebx, boot_ebx\n  mov $stack_top, %esp\n  call cmain\n1: cli; hlt; jmp 1b\n"
        ".section .bss\n.align 16\n  .space 8192\nstack_top:\n.text\n");

static u8 pattern[4096];

static u32 arg(const char *cmd, char key, u32 dflt) {
    for (const char *c = cmd; *c; c++) {
        if (c[0] == key && c[1] == '=') {
            u32 v = 0;
            for (c += 2; *c >= '0' && *c <= '9'; c++) v = v * 10 + (u32)(*c - '0');
            return v;
        }
    }
    return dflt;
}

static void outsb(u16 port, const u8 *p, u32 count) {
    __asm__ volatile("rep outsb" : "+S"(p), "+c"(count) : "d"(port) : "memory");
}

void cmain(void) {
    const char *cmd = (const char *)((u32 *)boot_ebx)[4];
    u32 n = arg(cmd, 'n', 1000), poll = arg(cmd, 'p', 1);
    for (u32 i = 0; i < sizeof pattern; i++) pattern[i] = (u8)('a' + i % 26);
    u32 done = 0;
    while (done < n) {
        u32 at = done % 26, chunk = poll ? 16 : 4096 - 26;
        if (chunk > n - done) chunk = n - done;
        if (poll) while (!(inb(COM1 + 5) & 0x20)) { }
        outsb(COM1, pattern + at, chunk);
        done += chunk;
    }
    debug_exit(0x21);
}
