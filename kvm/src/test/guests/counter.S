# 32-bit: counts forever, sending each count to port 0x50.
    .code32
    .text
    xor %eax, %eax
1:  inc %eax
    out %eax, $0x50
    jmp 1b
