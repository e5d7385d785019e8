# 32-bit, run by two vCPUs: EBX = own flag address, ECX = the other's, EAX = id. Each sets its flag, then spins
# until it sees the other's: both finish only if both run at the same time.
    .code32
    .text
    movl $1, (%ebx)
1:  cmpl $1, (%ecx)
    jne 1b
    out %eax, $0x40
    hlt
