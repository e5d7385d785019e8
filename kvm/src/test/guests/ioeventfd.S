# 32-bit: two byte writes to port 0x60 (an ioeventfd: no exit), one to port 0x61 (an exit), then HLT.
    .code32
    .text
    mov $7, %al
    out %al, $0x60
    out %al, $0x60
    out %al, $0x61
    hlt
