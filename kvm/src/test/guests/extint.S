# Real mode, split irqchip: handlers for vectors 0x30 and 0x31 in the IVT, then STI and HLT forever. Each
# handler reports its vector with OUT to port 0x10; they only run if the host injects them (KVM_INTERRUPT).
    .code16
    .text
    movw $h30, 0x30*4
    movw $0, 0x30*4+2
    movw $h31, 0x31*4
    movw $0, 0x31*4+2
    sti
1:  hlt
    jmp 1b
h30:
    mov $0x30, %al
    out %al, $0x10
    iret
h31:
    mov $0x31, %al
    out %al, $0x10
    iret
