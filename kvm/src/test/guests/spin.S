# 32-bit: spins forever without a single exit; only a kick gets it out of KVM_RUN.
    .code32
    .text
1:  jmp 1b
