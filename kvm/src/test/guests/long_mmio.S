# 64-bit long mode: MMIO writes of 1, 2, 4 and 8 bytes, then reads of each size into RBX, RCX, RDX, RSI.
    .code64
    .text
    mov $0xd0000000, %rdi
    movb $0x11, (%rdi)
    movw $0x2233, 8(%rdi)
    movl $0x44556677, 16(%rdi)
    mov $0x8899aabbccddeeff, %rax
    mov %rax, 24(%rdi)
    movzbl (%rdi), %ebx
    movzwl 8(%rdi), %ecx
    movl 16(%rdi), %edx
    mov 24(%rdi), %rsi
    mov $0x1234, %ax
    out %ax, $0x12
    hlt
