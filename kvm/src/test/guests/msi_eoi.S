# 32-bit flat protected mode, split irqchip: an IDT with a gate for vector 0x40, the LAPIC software-enabled,
# then STI and HLT forever. The handler reports 0x40 on port 0x10, then EOIs the LAPIC: for a level-triggered
# vector routed through a reserved IOAPIC GSI, KVM turns that EOI into KVM_EXIT_IOAPIC_EOI.
    .code32
    .text
    mov $h40, %eax
    mov $0x2000 + 0x40 * 8, %edi
    mov %ax, (%edi)
    movw $0x08, 2(%edi)
    movw $0x8e00, 4(%edi)
    shr $16, %eax
    mov %ax, 6(%edi)
    lidt idtr
    movl $0x1ff, 0xfee000f0
    sti
1:  hlt
    jmp 1b
h40:
    mov $0x40, %al
    out %al, $0x10
    movl $0, 0xfee000b0
    iret
idtr:
    .word 0x7ff
    .long 0x2000
