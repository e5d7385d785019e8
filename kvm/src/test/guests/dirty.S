# 32-bit: writes pages 1, 3 and 7 of the logged slot at 0x100000, nothing else outside its code page.
    .code32
    .text
    movl $1, 0x101000
    movl $2, 0x103ffc
    movb $3, 0x107800
    hlt
