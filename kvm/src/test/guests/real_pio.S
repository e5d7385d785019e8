# Real mode: OUT of 1, 2 and 4 bytes, then IN of 1, 2 and 4 bytes into BL, CX and EDX, then HLT.
    .code16
    .text
    mov $0x12, %al
    out %al, $0x10
    mov $0x3456, %ax
    out %ax, $0x12
    mov $0x789abcde, %eax
    out %eax, $0x14
    in $0x10, %al
    mov %al, %bl
    in $0x12, %ax
    mov %ax, %cx
    in $0x14, %eax
    mov %eax, %edx
    hlt
