/*
 * Multiboot v1 test guest: prints, over COM1, what the loader handed it (registers at entry, the information
 * structure: memory, boot device, command line, modules with their strings and first bytes, the memory map,
 * the boot loader name), then leaves through isa-debug-exit with status (0x21 << 1) | 1 = 67.
 * Built as an ELF, or with -DAOUT as a flat binary with the a.out kludge header (flag 16).
 */
#include "guest.h"

#define MB_MAGIC 0x1BADB002u
#ifdef AOUT
#define MB_FLAGS 0x00010003u
#else
#define MB_FLAGS 0x00000003u
#endif
extern char _start[], _edata[], _end[], __load_start[];

struct mb_header { u32 magic, flags, checksum, header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr; };
__attribute__((section(".multiboot"), used, aligned(4))) const struct mb_header mbh = {
    MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS),
#ifdef AOUT
    (u32)&mbh, (u32)__load_start, (u32)_edata, (u32)_end, (u32)_start
#endif
};

struct mb_info {
    u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    u32 syms[4];
    u32 mmap_length, mmap_addr, drives_length, drives_addr, config_table, boot_loader_name;
};
struct mb_mod { u32 start, end, string, reserved; };

u32 entry_regs[8];
static u32 zeroed_bss[64];

__asm__(".globl _start\n"
        "_start:\n"
        "  mov %eax, entry_regs\n"
        "  mov %ebx, entry_regs+4\n"
        "  mov %cr0, %ecx\n"
        "  mov %ecx, entry_regs+8\n"
        "  xor %ecx, %ecx\n"
        "  mov %cs, %cx\n"
        "  mov %ecx, entry_regs+12\n"
        "  mov %edx, entry_regs+16\n"
        "  mov $stack_top, %esp\n"
        "  call cmain\n"
        "1: cli; hlt; jmp 1b\n"
        ".section .bss\n"
        ".align 16\n"
        "  .space 8192\n"
        "stack_top:\n"
        ".text\n");

void cmain(void) {
    puts_("multiboot guest\n");
    field("eax", entry_regs[0]);
    field("ebx", entry_regs[1]);
    field("cr0", entry_regs[2]);
    field("edx", entry_regs[4]);
    u32 nz = 0;
    for (int i = 0; i < 64; i++) nz |= zeroed_bss[i];
    field("bss_nonzero", nz);
    if (entry_regs[0] != 0x2BADB002u) debug_exit(0x7f);
    const struct mb_info *mbi = (const struct mb_info *)entry_regs[1];
    field("flags", mbi->flags);
    if (mbi->flags & 1) { field("mem_lower", mbi->mem_lower); field("mem_upper", mbi->mem_upper); }
    if (mbi->flags & 2) field("boot_device", mbi->boot_device);
    if (mbi->flags & 4) { puts_("cmdline=["); putsafe((const char *)mbi->cmdline, 4096); puts_("]\n"); }
    if (mbi->flags & 8) {
        field("mods_count", mbi->mods_count);
        const struct mb_mod *m = (const struct mb_mod *)mbi->mods_addr;
        for (u32 i = 0; i < mbi->mods_count; i++) {
            puts_("mod "); putdec(i);
            puts_(" start="); puthex(m[i].start);
            puts_(" size="); putdec(m[i].end - m[i].start);
            puts_(" string=["); putsafe((const char *)m[i].string, 1024);
            puts_("] data=[");
            u32 n = m[i].end - m[i].start;
            putsafe((const char *)m[i].start, n < 32 ? n : 32);
            puts_("]\n");
        }
    }
    if (mbi->flags & 64) {
        field("mmap_length", mbi->mmap_length);
        u32 p = mbi->mmap_addr, end = p + mbi->mmap_length;
        while (p < end) {
            u32 size = *(u32 *)p;
            u64 base = *(u64 *)(p + 4), len = *(u64 *)(p + 12);
            u32 type = *(u32 *)(p + 20);
            puts_("mmap size="); putdec(size);
            puts_(" base="); puthex(base);
            puts_(" len="); puthex(len);
            puts_(" type="); putdec(type); puts_("\n");
            p += size + 4;
        }
    }
    if (mbi->flags & 512) { puts_("loader=["); putsafe((const char *)mbi->boot_loader_name, 64); puts_("]\n"); }
    puts_("bye\n");
    debug_exit(0x21);
}
