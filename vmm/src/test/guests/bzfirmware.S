/*
 * The setup code of firmware-bz.bin, the firmware guest (firmware.c built with -DBZIMAGE) as a bzImage: the
 * loader enters it in real mode at setup_seg+0x20:0 (setup at 0x10000, as both VMMs load a 2.15 kernel); it
 * switches to flat 32-bit protected mode, paging off, and jumps to the protected-mode kernel at 1 MiB, which the
 * build appends after these 0x800 bytes (setup_sects 3). Nothing here prints: the kernel reports the loader's
 * fw_cfg items.
 * Built with: gcc -c bzfirmware.S && ld -Ttext=0 --oformat=binary (file offsets are addresses, ds = 0x1000).
 */
#include "bzheader.inc"

entry16:
        cli
        ljmp $0x1000, $1f
1:      mov $0x1000, %ax
        mov %ax, %ds
        lgdtl gdt_desc
        mov %cr0, %eax
        or $1, %eax
        mov %eax, %cr0
        ljmpl $0x08, $(0x10000 + pm32)

        .code32
pm32:   mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov %ax, %fs
        mov %ax, %gs
        mov $0x100000, %eax
        jmp *%eax

        .align 8
gdt:    .quad 0
        .quad 0x00cf9a000000ffff        /* 0x08: code, flat 4 GiB */
        .quad 0x00cf92000000ffff        /* 0x10: data, flat 4 GiB */
gdt_desc:
        .word 23
        .long 0x10000 + gdt

        .org 0x800
