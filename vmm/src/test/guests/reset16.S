/*
 * What a system reset restores (a bzImage-shaped real-mode guest, like irq16.S): on its first boot it marks RAM at
 * 0x7000, programs the LAPIC through the x2APIC MSRs (enabled, LINT0 ExtINT), the PIC (Linux's init_8259A) and
 * the PIT (channel 0, mode 2), then triple-faults (#DE with an empty IDT). On the boot after the reset it finds the
 * mark and prints what the interrupt controllers and the PIT read back: the reset state QEMU gives them.
 */
#include "bzheader.inc"

entry16:
        ljmp $0x1000, $start
start:
        cli
        mov $0x1000, %ax
        mov %ax, %ds
        xor %ax, %ax
        mov %ax, %es
        cmpl $0x52534554, %es:0x7000
        je second

        movl $0x52534554, %es:0x7000
        mov $msg_first, %si
        call puts
        call report                              /* the state at power-on, for comparison */
        mov $msg_programmed, %si
        call puts
        mov $0x80f, %ecx; mov $0x1ff, %eax; xor %edx, %edx; wrmsr
        mov $0x835, %ecx; mov $0x700, %eax; xor %edx, %edx; wrmsr
        mov $0xff, %al; out %al, $0x21; out %al, $0xa1
        mov $0x11, %al; out %al, $0x20
        mov $0x20, %al; out %al, $0x21
        mov $0x04, %al; out %al, $0x21
        mov $0x01, %al; out %al, $0x21
        mov $0xfb, %al; out %al, $0x21
        mov $0x34, %al; out %al, $0x43
        mov $0x10, %al; out %al, $0x40
        mov $0x27, %al; out %al, $0x40
        call report
        /* triple fault: into flat 32-bit protected mode, an empty IDT, then #DE (this host's nested KVM turns a
           real-mode fault with an empty IVT into a hang, not a shutdown) */
        lgdtl gdtr
        mov %cr0, %eax
        or $1, %eax
        mov %eax, %cr0
        ljmpl $0x08, $0x10000 + pm32
        .code32
pm32:
        lidt 0x10000 + empty_idt
        xor %ecx, %ecx
        div %ecx
1:      hlt
        jmp 1b
        .code16

second:
        movl $0, %es:0x7000
        mov $msg_second, %si
        call puts
        call report
        mov $msg_bye, %si
        call puts
        mov $0x21, %eax
        mov $0xf4, %dx
        outl %eax, %dx
        cli
2:      hlt
        jmp 2b

/* prints APIC_BASE (with x2APIC then enabled to read the rest), SVR, LVT0, the PIC's IMR and vector base (as
   the vector an INTA of a spurious request returns is not readable, its ICW state shows in IMR only), and
   channel 0's read-back status */
report:
        mov $0x1b, %ecx; rdmsr
        mov $n_base, %si; call field
        mov $0x1b, %ecx; rdmsr; or $0xc00, %eax; wrmsr
        mov $0x80f, %ecx; rdmsr
        mov $n_svr, %si; call field
        mov $0x835, %ecx; rdmsr
        mov $n_lvt0, %si; call field
        mov $n_imr, %si; in $0x21, %al; movzbl %al, %eax; call field
        /* read-back status of channel 0 without its OUT bit (bit 7): OUT flips every 27 ms after a reset, so it
           says how long the guest took to get here (seconds on an emulated CPU), not what the reset restored */
        mov $0xe2, %al; out %al, $0x43
        mov $n_st0, %si; in $0x40, %al; and $0x7f, %al; movzbl %al, %eax; call field
        ret

#include "rmio.inc"

empty_idt: .word 0
        .long 0
        .align 8
gdt:    .quad 0, 0x00cf9a000000ffff, 0x00cf92000000ffff
gdtr:   .word 23
        .long 0x10000 + gdt
msg_first: .asciz "first boot\r\n"
msg_second: .asciz "after reset\r\n"
msg_programmed: .asciz "programmed\r\n"
n_base: .asciz "apic_base"
n_svr: .asciz "lapic.svr"
n_lvt0: .asciz "lapic.lvt0"
n_imr: .asciz "pic.master.imr"
n_st0: .asciz "pit.ch0.readback.status"
msg_eq: .asciz "=0x"
msg_nl: .asciz "\r\n"
msg_bye: .asciz "bye\r\n"

        .org 0x800
        .ascii "PROTECTED-MODE-KERNEL-IMAGE-----"
        .org 0xa00
