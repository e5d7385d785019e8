/*
 * The 64-bit test guests' entry (vgpu.c, edu.c): a PVH ELF64 note pointing at pvh_start, which QEMU and this VMM
 * enter in 32-bit protected mode with EBX = hvm_start_info. The stub identity-maps the first 4 GiB with 2 MiB pages
 * (RAM, the virtio-mmio transports, ECAM, the 32-bit PCI window and the LAPIC all lie below 4 GiB), enables long mode
 * and SSE, and calls the guest's cmain in 64-bit mode; start_info keeps EBX. Include once, after guest.h.
 */
#ifndef PVH64_H
#define PVH64_H
__asm__(".pushsection .note.Xen, \"a\", @note\n"
        ".align 4\n"
        ".long 4, 4, 18\n .asciz \"Xen\"\n .align 4\n .long pvh_start\n .align 4\n"
        ".popsection");

struct hvm_start_info {
    u32 magic, version, flags, nr_modules;
    u64 modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
    u32 memmap_entries, reserved;
};

/* Entry: 32-bit protected mode, paging off, EBX = hvm_start_info. */
__asm__(".code32\n"
        ".globl pvh_start\n"
        "pvh_start:\n"
        "  mov %ebx, start_info\n"
        "  mov $pd, %edi\n"              /* 4 page directories: 2048 x 2 MiB pages, identity */
        "  mov $0x83, %eax\n"
        "  mov $2048, %ecx\n"
        "1: mov %eax, (%edi)\n"
        "  movl $0, 4(%edi)\n"
        "  add $0x200000, %eax\n"
        "  add $8, %edi\n"
        "  loop 1b\n"
        "  mov $pdpt, %edi\n"
        "  mov $pd + 3, %eax\n"
        "  mov $4, %ecx\n"
        "2: mov %eax, (%edi)\n"
        "  movl $0, 4(%edi)\n"
        "  add $4096, %eax\n"
        "  add $8, %edi\n"
        "  loop 2b\n"
        "  mov $pdpt + 3, %eax\n"
        "  mov %eax, pml4\n"
        "  mov $pml4, %eax\n"
        "  mov %eax, %cr3\n"
        "  mov %cr4, %eax\n"
        "  or $0x620, %eax\n"            /* PAE | OSFXSR | OSXMMEXCPT */
        "  mov %eax, %cr4\n"
        "  mov $0xc0000080, %ecx\n"      /* EFER.LME */
        "  rdmsr\n"
        "  or $0x100, %eax\n"
        "  wrmsr\n"
        "  mov %cr0, %eax\n"
        "  and $0xfffffffb, %eax\n"      /* no EM */
        "  or $0x80000003, %eax\n"       /* PG | MP | PE */
        "  mov %eax, %cr0\n"
        "  lgdt gdt_ptr\n"
        "  ljmp $0x08, $long_mode\n"
        ".code64\n"
        "long_mode:\n"
        "  mov $0x10, %ax\n"
        "  mov %ax, %ds\n"
        "  mov %ax, %es\n"
        "  mov %ax, %ss\n"
        "  mov $stack_top, %rsp\n"
        "  call cmain\n"
        "3: cli; hlt; jmp 3b\n"
        ".section .rodata\n"
        ".align 16\n"
        "gdt: .quad 0, 0x00af9a000000ffff, 0x00cf92000000ffff\n"
        "gdt_ptr: .word 23\n .long gdt\n"
        ".section .bss\n"
        ".align 4096\n"
        "pml4: .space 4096\n"
        "pdpt: .space 4096\n"
        "pd: .space 4 * 4096\n"
        ".align 16\n"
        "  .space 16384\n"
        "stack_top:\n"
        ".text\n");

u32 start_info;

/* gcc may turn struct copies and loops into these calls even when freestanding. */
void *memset(void *d, int c, unsigned long n) {
    u8 *p = d;
    while (n--) *p++ = (u8)c;
    return d;
}
void *memcpy(void *d, const void *s, unsigned long n) {
    u8 *p = d;
    const u8 *q = s;
    while (n--) *p++ = *q++;
    return d;
}

#endif
