# 32-bit: an OUT to port 0x10 forever; every iteration is one KVM_EXIT_IO.
    .code32
    .text
    xor %eax, %eax
1:  inc %eax
    out %eax, $0x10
    jmp 1b
