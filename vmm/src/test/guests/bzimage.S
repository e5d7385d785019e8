/*
 * A Linux-boot-protocol test guest: a bzImage-shaped file (boot sector, setup header 2.15, one setup sector,
 * then a small "protected-mode kernel") whose real-mode setup code prints, over COM1, what the loader handed it:
 * the segment registers and stack at entry, the setup-header fields the loader writes (type_of_loader,
 * loadflags, heap_end_ptr, cmd_line_ptr, ramdisk_image/size, vid_mode, setup_data), the command line and the first
 * bytes of the protected-mode kernel (the initrd lies above 1 MiB, out of real mode's reach). Exits through isa-debug-exit at 0xf4 with 0x21.
 * Built with: gcc -c bzimage.S && ld -Ttext=0 --oformat=binary (file offsets are addresses, ds = 0x1000).
 */
        .code16
        .text
        .globl _start
_start:
        .org 0x1f1
setup_sects:    .byte 3
root_flags:     .word 0
syssize:        .long 0x20
ram_size:       .word 0
vid_mode:       .word 0xffff
root_dev:       .word 0
boot_flag:      .word 0xaa55
        .org 0x200
        .byte 0xeb, entry16 - 0x202
        .ascii "HdrS"
version:        .word 0x020f
realmode_swtch: .long 0
start_sys_seg:  .word 0
kernel_version: .word 0
type_of_loader: .byte 0
loadflags:      .byte 1
setup_move:     .word 0
code32_start:   .long 0x100000
ramdisk_image:  .long 0
ramdisk_size:   .long 0
bootsect_kludge:.long 0
heap_end_ptr:   .word 0
ext_loader_ver: .byte 0
ext_loader_type:.byte 0
cmd_line_ptr:   .long 0
initrd_max:     .long 0x7fffffff
kernel_align:   .long 0x200000
relocatable:    .byte 0
min_alignment:  .byte 0
xloadflags:     .word 0
cmdline_size:   .long 2047
hw_subarch:     .long 0
hw_subarch_data:.quad 0
payload_offset: .long 0
payload_length: .long 0
setup_data:     .quad 0
pref_address:   .quad 0
init_size:      .long 0x1000
handover:       .long 0
kernel_info:    .long 0

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

/* prints the string at %si, then "=0x" and %eax in hex, then CRLF */
field:
        push %eax
        call puts
        mov $msg_eq, %si
        call puts
        pop %eax
        mov $8, %cx
9:      rol $4, %eax
        push %eax
        and $15, %al
        add $'0', %al
        cmp $'9', %al
        jbe 10f
        add $39, %al
10:     call putc
        pop %eax
        loop 9b
        mov $msg_nl, %si
        call puts
        ret

puts:
        lodsb
        test %al, %al
        jz 11f
        call putc
        jmp puts
11:     ret

putc:
        push %dx
        push %ax
        mov $0x3fd, %dx
12:     inb %dx, %al
        test $0x20, %al
        jz 12b
        pop %ax
        mov $0x3f8, %dx
        outb %al, %dx
        pop %dx
        ret

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
