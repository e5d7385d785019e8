# 32-bit flat protected mode: OUT of 4 bytes, a store the host checks, and IN of 1/2/4 bytes into BL/CX/EDX.
    .code32
    .text
    mov $0xdeadbeef, %eax
    out %eax, $0x20
    movl $0x11223344, 0x8000
    inb $0x10, %al
    mov %al, %bl
    inw $0x12, %ax
    mov %ax, %cx
    inl $0x14, %eax
    mov %eax, %edx
    hlt
