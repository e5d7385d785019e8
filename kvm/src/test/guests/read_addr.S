# 32-bit: reads the dword at 0x200000 and sends it to port 0x30; then HLT.
    .code32
    .text
    mov 0x200000, %eax
    out %eax, $0x30
    hlt
