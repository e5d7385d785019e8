# 32-bit flat protected mode: a 4-byte store to 0xd0000000 (no RAM there) forever; each one KVM_EXIT_MMIO.
    .code32
    .text
    xor %eax, %eax
    mov $0xd0000000, %edi
1:  inc %eax
    mov %eax, (%edi)
    jmp 1b
