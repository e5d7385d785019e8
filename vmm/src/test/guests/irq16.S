/*
 * Interrupts in real mode (the Linux boot protocol's entry, where this host's nested KVM can return from
 * interrupts: in 32-bit protected mode it cannot emulate the handler's IRET, under QEMU as under isthmus):
 * the 8259 PIC pair programmed as Linux's init_8259A does, the 8254 PIT's channel 0 ticking IRQ 0 at ~100 Hz,
 * channel 2 gated through port 0x61 as Linux's TSC calibration polls it (unassigned on microvm: all ones), and
 * the UART's transmitter-empty interrupt on IRQ 4. Prints what it reads back and how many interrupts of each kind arrived (counts, not
 * timings), then exits through isa-debug-exit at 0xf4 with 0x21. A bzImage-shaped file like bzimage.S.
 */
#include "bzheader.inc"

entry16:
        ljmp $0x1000, $start
start:
        cli
        mov $0x1000, %ax
        mov %ax, %ds
        mov $msg_hello, %si
        call puts
        /* IVT: vectors 0x20-0x2f (the PIC's, after ICW2) to handlers in this segment */
        xor %ax, %ax
        mov %ax, %es
        mov $0x20 * 4, %di
        mov $16, %cx
1:      movw $other_irq, %es:(%di)
        movw $0x1000, %es:2(%di)
        add $4, %di
        loop 1b
        movw $irq0, %es:0x20 * 4
        movw $irq4, %es:0x24 * 4
        /* The LAPIC: microvm leaves LINT0 masked (no firmware sets up virtual-wire mode), so the PIC's INTR
           reaches the CPU only once the guest makes LINT0 ExtINT, as a BIOS or Linux would. From real mode,
           through the x2APIC MSRs: APIC_BASE |= EN | EXTD, SVR = 0x1ff, LVT0 = ExtINT. */
        mov $0x1b, %ecx; rdmsr; or $0xc00, %eax; wrmsr
        mov $0x80f, %ecx; mov $0x1ff, %eax; xor %edx, %edx; wrmsr
        mov $0x835, %ecx; mov $0x700, %eax; xor %edx, %edx; wrmsr
        mov $0x835, %ecx; rdmsr
        mov $n_lvt0, %si; call field
        /* the PIC as Linux's init_8259A: all masked, ICW1-4, then only the cascade open */
        mov $0xff, %al; out %al, $0x21; out %al, $0xa1
        mov $0x11, %al; out %al, $0x20
        mov $0x20, %al; out %al, $0x21
        mov $0x04, %al; out %al, $0x21
        mov $0x01, %al; out %al, $0x21
        mov $0x11, %al; out %al, $0xa0
        mov $0x28, %al; out %al, $0xa1
        mov $0x02, %al; out %al, $0xa1
        mov $0x01, %al; out %al, $0xa1
        mov $0xfb, %al; out %al, $0x21
        mov $0xff, %al; out %al, $0xa1
        mov $n_imr, %si;  in $0x21, %al; movzbl %al, %eax; call field
        mov $n_simr, %si; in $0xa1, %al; movzbl %al, %eax; call field
        /* IRR without IRQ 0's bit: the PIT ticks from power-on (18.2 Hz) and the PIC latches its edges while
           masked, so that bit says how long the guest took to get here (ticks, on an emulated CPU), not what the
           PIC's initialisation left */
        mov $0x0a, %al; out %al, $0x20
        mov $n_irr, %si;  in $0x20, %al; and $0xfe, %al; movzbl %al, %eax; call field
        mov $0x0b, %al; out %al, $0x20
        mov $n_isr, %si;  in $0x20, %al; movzbl %al, %eax; call field
        mov $0x4d0, %dx; in %dx, %al; mov %al, %bl; inc %dx; in %dx, %al; mov %al, %bh
        mov $n_elcr, %si; movzwl %bx, %eax; call field

        /* PIT channel 0: mode 2, count 11932 (~100 Hz), IRQ 0 unmasked; wait for 5 ticks in HLT */
        mov $0x34, %al; out %al, $0x43
        mov $(11932 & 0xff), %al; out %al, $0x40
        mov $(11932 >> 8), %al; out %al, $0x40
        mov $0xfa, %al; out %al, $0x21
2:      sti
        hlt
        cli
        cmpw $5, %cs:ticks
        jb 2b
        mov $0xfb, %al; out %al, $0x21
        mov $n_ticks, %si; movl $5, %eax; call field
        mov $0xe2, %al; out %al, $0x43          /* read-back: status of channel 0 */
        mov $n_st0, %si; in $0x40, %al; movzbl %al, %eax; call field

        /* PIT channel 2 gated by port 0x61, mode 0, ~1 ms: poll OUT (bit 5) as Linux's calibration does. QEMU
           microvm has no PC speaker, so port 0x61 is unassigned there and reads all ones. */
        in $0x61, %al; and $0xfd, %al; or $0x01, %al; out %al, $0x61
        mov $0xb0, %al; out %al, $0x43
        mov $(1193 & 0xff), %al; out %al, $0x42
        mov $(1193 >> 8), %al; out %al, $0x42
        mov $n_out2lo, %si; in $0x61, %al; movzbl %al, %eax; call field
        mov $200000, %ecx
3:      in $0x61, %al
        test $0x20, %al
        jnz 4f
        loop 3b
4:      mov $n_out2, %si; in $0x61, %al; movzbl %al, %eax; call field

        /* the UART's transmitter-empty interrupt on IRQ 4 (OUT2 opens the PC's interrupt gate) */
        mov $0x3fa, %dx; in %dx, %al
        mov $0x3fc, %dx; mov $0x08, %al; out %al, %dx
        mov $0xea, %al; out %al, $0x21
        mov $0x3f9, %dx; mov $0x02, %al; out %al, %dx
5:      sti
        hlt
        cli
        cmpw $1, %cs:uart
        jb 5b
        mov $0xfb, %al; out %al, $0x21
        mov $n_uart, %si; movzwl %cs:uart, %eax; call field
        mov $n_iir, %si; movzbl %cs:iir, %eax; and $0x0f, %eax; call field
        mov $n_other, %si; movzwl %cs:other, %eax; call field
        mov $0x30, %al; out %al, $0x43           /* channel 0 to mode 0, no count: no more ticks */
        mov $msg_bye, %si
        call puts
        mov $0x21, %eax
        mov $0xf4, %dx
        outl %eax, %dx
        cli
6:      hlt
        jmp 6b

irq0:   incw %cs:ticks
        push %ax
        mov $0x20, %al
        out %al, $0x20
        pop %ax
        iret
irq4:   push %ax
        push %dx
        mov $0x3fa, %dx
        in %dx, %al
        mov %al, %cs:iir
        mov $0x3f9, %dx
        xor %al, %al
        out %al, %dx
        incw %cs:uart
        mov $0x20, %al
        out %al, $0x20
        pop %dx
        pop %ax
        iret
other_irq:
        incw %cs:other
        push %ax
        mov $0x20, %al
        out %al, $0x20
        pop %ax
        iret

#include "rmio.inc"

ticks: .word 0
uart: .word 0
other: .word 0
iir: .byte 0
msg_hello: .asciz "irq16 guest\r\n"
n_lvt0: .asciz "lapic.lvt0"
n_imr: .asciz "pic.master.imr"
n_simr: .asciz "pic.slave.imr"
n_irr: .asciz "pic.master.irr"
n_isr: .asciz "pic.master.isr"
n_elcr: .asciz "elcr"
n_ticks: .asciz "pit.irq0.ticks"
n_st0: .asciz "pit.ch0.readback.status"
n_out2lo: .asciz "port61.at.start"
n_out2: .asciz "port61.after.count"
n_uart: .asciz "uart.irq4.count"
n_iir: .asciz "uart.iir.in.handler"
n_other: .asciz "other.irqs"
msg_eq: .asciz "=0x"
msg_nl: .asciz "\r\n"
msg_bye: .asciz "bye\r\n"

        .org 0x800
        .ascii "PROTECTED-MODE-KERNEL-IMAGE-----"
        .org 0xa00
