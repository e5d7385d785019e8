/*
 * A Linux-boot-protocol test guest: a bzImage-shaped file (boot sector, setup header 2.15, one setup sector,
 * then a small "protected-mode kernel") whose real-mode setup code prints, over COM1, what the loader handed it:
 * the segment registers and stack at entry, the setup-header fields the loader writes (type_of_loader,
 * loadflags, heap_end_ptr, cmd_line_ptr, ramdisk_image/size, vid_mode, setup_data), the command line and the first
 * bytes of the protected-mode kernel (the initrd lies above 1 MiB, out of real mode's reach). Exits through isa-debug-exit at 0xf4 with 0x21.
 * Built with: gcc -c bzimage.S && ld -Ttext=0 --oformat=binary (file offsets are addresses, ds = 0x1000).
 */
#include "bzheader.inc"

entry16:
        /* keep the entry state in registers until the segments are known */
        mov %cs, %ax
        mov %ds, %bx
        mov %ss, %cx
        mov %sp, %dx
        mov %es, %di
        ljmp $0x1000, $normal
normal:
        mov $0x1000, %si
        mov %si, %ds
        mov %ax, e_cs
        mov %bx, e_ds
        mov %cx, e_ss
        mov %dx, e_sp
        mov %di, e_es
        mov $msg_hello, %si
        call puts
        mov $n_cs, %si;   movzwl e_cs, %eax;        call field
        mov $n_ds, %si;   movzwl e_ds, %eax;        call field
        mov $n_es, %si;   movzwl e_es, %eax;        call field
        mov $n_ss, %si;   movzwl e_ss, %eax;        call field
        mov $n_sp, %si;   movzwl e_sp, %eax;        call field
        mov $n_tol, %si;  movzbl type_of_loader, %eax; call field
        mov $n_lf, %si;   movzbl loadflags, %eax;   call field
        mov $n_heap, %si; movzwl heap_end_ptr, %eax; call field
        mov $n_cmd, %si;  movl cmd_line_ptr, %eax;  call field
        mov $n_rdi, %si;  movl ramdisk_image, %eax; call field
        mov $n_rds, %si;  movl ramdisk_size, %eax;  call field
        mov $n_vid, %si;  movzwl vid_mode, %eax;    call field
        mov $n_sd, %si;   movl setup_data, %eax;    call field
        mov $n_c32, %si;  movl code32_start, %eax;  call field
        /* the command line, through %es */
        mov $n_cmdline, %si
        call puts
        movl cmd_line_ptr, %eax
        mov %eax, %ebx
        shr $4, %eax
        mov %ax, %es
        and $15, %bx
1:      movb %es:(%bx), %al
        test %al, %al
        jz 2f
        call putc
        inc %bx
        jmp 1b
2:      mov $msg_close, %si
        call puts
4:      /* the first 16 bytes of the protected-mode kernel at 1 MiB: segment 0xffff, offset 0x10 */
        mov $n_kernel, %si
        call puts
        movl $0x100000, %eax
        call dump16
        mov $msg_bye, %si
        call puts
        mov $0x21, %eax
        mov $0xf4, %dx
        outl %eax, %dx
        cli
3:      hlt
        jmp 3b

/* prints 16 bytes at physical %eax (below 1 MiB + 64 KiB) as characters */
dump16:
        mov %eax, %ebx
        shr $4, %eax
        cmp $0xffff, %eax
        jbe 5f
        mov $0xffff, %eax
5:      mov %ax, %es
        shl $4, %eax
        sub %eax, %ebx
        mov $16, %cx
6:      movb %es:(%bx), %al
        cmp $32, %al
        jb 7f
        cmp $126, %al
        jbe 8f
7:      mov $'?', %al
8:      call putc
        inc %bx
        loop 6b
        mov $msg_close, %si
        call puts
        ret

#include "rmio.inc"

e_cs: .word 0
e_ds: .word 0
e_es: .word 0
e_ss: .word 0
e_sp: .word 0
msg_hello: .asciz "bzImage guest (real-mode setup)\r\n"
n_cs: .asciz "entry.cs"
n_ds: .asciz "entry.ds"
n_es: .asciz "entry.es"
n_ss: .asciz "entry.ss"
n_sp: .asciz "entry.sp"
n_tol: .asciz "type_of_loader"
n_lf: .asciz "loadflags"
n_heap: .asciz "heap_end_ptr"
n_cmd: .asciz "cmd_line_ptr"
n_rdi: .asciz "ramdisk_image"
n_rds: .asciz "ramdisk_size"
n_vid: .asciz "vid_mode"
n_sd: .asciz "setup_data"
n_c32: .asciz "code32_start"
n_cmdline: .asciz "cmdline=["
n_kernel: .asciz "kernel=["
msg_close: .asciz "]\r\n"
msg_eq: .asciz "=0x"
msg_nl: .asciz "\r\n"
msg_bye: .asciz "bye\r\n"

        .org 0x800
/* the protected-mode part: never run, only checked for where it landed */
        .ascii "PROTECTED-MODE-KERNEL-IMAGE-----"
        .org 0xa00
