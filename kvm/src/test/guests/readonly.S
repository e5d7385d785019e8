# 32-bit: writes to 0x300000 (a read-only slot: an MMIO exit), reads it back (the slot's own data) to port 0x30.
    .code32
    .text
    movl $0x55667788, 0x300000
    mov 0x300000, %eax
    out %eax, $0x30
    hlt
