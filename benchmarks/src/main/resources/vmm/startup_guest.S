# VmmStartupBenchmark's trivial Multiboot guest: one write to isa-debug-exit (status 0x21 << 1 | 1 = 67).
    .text
    .globl _start
    .align 4
multiboot_header: .long 0x1BADB002, 0, -0x1BADB002
_start:
    mov $0x21, %eax
    out %eax, $0xf4
1:  hlt
    jmp 1b
