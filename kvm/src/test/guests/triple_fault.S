# 32-bit: an empty IDT, then an exception: #DE cannot be delivered, nor #DF, so the CPU triple-faults (SHUTDOWN).
    .code32
    .text
    lidt idtr
    xor %ecx, %ecx
    div %ecx
    hlt
idtr:
    .word 0
    .long 0
