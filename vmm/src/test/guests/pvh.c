/*
 * PVH test guest: an ELF with a Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY), booted by QEMU's load_elfboot and
 * microvm's firmware, or by this VMM. Prints over COM1 what it was handed: the CPU state at entry, the
 * hvm_start_info (magic, version, flags, modules with their size, checksum, first bytes and command line, the
 * command line, the memory map) and then leaves through isa-debug-exit with status (0x21 << 1) | 1 = 67.
 * Addresses of the tables themselves (EBX, the *_paddr fields, rsdp_paddr) are not printed: they are wherever
 * the firmware put them. A note of another type comes first, so the loader must search.
 * Built 32-bit; objcopy -O elf64-x86-64 makes the 64-bit container QEMU also accepts.
 */
#include "guest.h"

#define XEN_ELFNOTE_GUEST_OS 6
#define XEN_ELFNOTE_PHYS32_ENTRY 18
__asm__(".pushsection .note.Xen, \"a\", @note\n"
        ".align 4\n"
        ".long 8, 8, 6\n .asciz \"isthmus\"\n .align 4\n .asciz \"testpvh\"\n .align 4\n"
        ".long 4, 4, 18\n .asciz \"Xen\"\n .align 4\n .long pvh_start\n .align 4\n"
        ".popsection");

struct hvm_start_info {
    u32 magic, version, flags, nr_modules;
    u64 modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
    u32 memmap_entries, reserved;
};
struct hvm_modlist_entry { u64 paddr, size, cmdline_paddr, reserved; };
struct hvm_memmap_table_entry { u64 addr, size; u32 type, reserved; };

u32 entry_regs[8];
static u32 zeroed_bss[64];

__asm__(".globl pvh_start\n"
        "pvh_start:\n"
        "  mov %eax, entry_regs\n"
        "  mov %ebx, entry_regs+4\n"
        "  mov %cr0, %eax\n"
        "  mov %eax, entry_regs+8\n"
        "  mov %cr4, %eax\n"
        "  mov %eax, entry_regs+12\n"
        "  xor %eax, %eax\n"
        "  mov %cs, %ax\n"
        "  mov %eax, entry_regs+16\n"
        "  mov %ds, %ax\n"
        "  mov %eax, entry_regs+20\n"
        "  mov %ss, %ax\n"
        "  mov %eax, entry_regs+24\n"
        "  mov %ecx, entry_regs+28\n"
        "  mov $stack_top, %esp\n"
        "  call cmain\n"
        "1: cli; hlt; jmp 1b\n"
        ".section .bss\n"
        ".align 16\n"
        "  .space 8192\n"
        "stack_top:\n"
        ".text\n");

static u32 checksum(const u8 *p, u64 n) {
    u32 s = 0;
    for (u64 i = 0; i < n; i++) s = s * 31 + p[i];
    return s;
}

void cmain(void) {
    puts_("pvh guest\n");
    field("eax", entry_regs[0]);
    field("cr0", entry_regs[2]);
    field("cr4.pae", (entry_regs[3] >> 5) & 1);
    field("ecx", entry_regs[7]);
    field("cs", entry_regs[4]);
    field("ds", entry_regs[5]);
    field("ss", entry_regs[6]);
    u32 nz = 0;
    for (int i = 0; i < 64; i++) nz |= zeroed_bss[i];
    field("bss_nonzero", nz);
    const struct hvm_start_info *si = (const struct hvm_start_info *)entry_regs[1];
    field("magic", si->magic);
    if (si->magic != 0x336ec578u) debug_exit(0x7f);
    field("version", si->version);
    field("flags", si->flags);
    field("nr_modules", si->nr_modules);
    puts_("cmdline=[");
    if (si->cmdline_paddr) putsafe((const char *)(u32)si->cmdline_paddr, 4096);
    puts_("]\n");
    const struct hvm_modlist_entry *m = (const struct hvm_modlist_entry *)(u32)si->modlist_paddr;
    for (u32 i = 0; i < si->nr_modules; i++) {
        puts_("mod "); putdec(i);
        puts_(" paddr="); puthex(m[i].paddr);
        puts_(" size="); putdec(m[i].size);
        puts_(" sum="); puthex(checksum((const u8 *)(u32)m[i].paddr, m[i].size));
        puts_(" cmdline=[");
        if (m[i].cmdline_paddr) putsafe((const char *)(u32)m[i].cmdline_paddr, 1024);
        puts_("] data=[");
        putsafe((const char *)(u32)m[i].paddr, m[i].size < 32 ? (u32)m[i].size : 32);
        puts_("]\n");
    }
    if (si->version >= 1) {
        field("memmap_entries", si->memmap_entries);
        const struct hvm_memmap_table_entry *e = (const struct hvm_memmap_table_entry *)(u32)si->memmap_paddr;
        for (u32 i = 0; i < si->memmap_entries; i++) {
            puts_("memmap addr="); puthex(e[i].addr);
            puts_(" size="); puthex(e[i].size);
            puts_(" type="); putdec(e[i].type);
            puts_(" reserved="); putdec(e[i].reserved);
            puts_("\n");
        }
    }
    puts_("bye\n");
    debug_exit(0x21);
}
