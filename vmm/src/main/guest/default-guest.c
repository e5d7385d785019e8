/*
 * The built-in guest of `isthmus vmm`: a Multiboot kernel that prints a banner and what it found (CPU mode,
 * memory, command line) on COM1, then powers off through isa-debug-exit at QEMU's default port 0x501 (the VMM
 * adds that device when it boots this guest), writing 0: exit status (0 << 1) | 1 = 1, QEMU's convention.
 * Freestanding, 32-bit; built by build.sh into src/main/resources/io/isthmus/vmm/guest/default-guest.elf.
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define MB_MAGIC 0x1BADB002u
#define MB_FLAGS 0x00000003u
__attribute__((section(".multiboot"), used, aligned(4))) const u32 mb_header[3] = {
    MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)};

struct mb_info {
    u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    u32 syms[4];
    u32 mmap_length, mmap_addr;
};

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static void putc_(char c) {
    while (!(inb(0x3f8 + 5) & 0x20)) { }
    outb(0x3f8, (u8)c);
}
static void puts_(const char *s) { while (*s) { if (*s == '\n') putc_('\r'); putc_(*s++); } }
static void putdec(u64 v) {
    char b[21]; int i = 20; b[i] = 0;
    do { b[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    puts_(b + i);
}

u32 boot_magic, boot_info;
__asm__(".globl _start\n"
        "_start:\n"
        "  mov %eax, boot_magic\n"
        "  mov %ebx, boot_info\n"
        "  mov $stack_top, %esp\n"
        "  call guest_main\n"
        "1: cli; hlt; jmp 1b\n"
        ".section .bss\n"
        ".align 16\n"
        "  .space 4096\n"
        "stack_top:\n"
        ".text\n");

void guest_main(void) {
    puts_("\nHello from the isthmus built-in guest!\n");
    puts_("  This VM runs on KVM through Java's FFM API; no QEMU, no JNI.\n");
    u32 cr0;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    puts_("  CPU mode:     ");
    puts_((cr0 & 1) ? ((cr0 >> 31) ? "32-bit protected mode, paging on\n" : "32-bit protected mode, paging off\n")
                    : "real mode\n");
    if (boot_magic != 0x2BADB002u) {
        puts_("  booted without Multiboot: nothing more to report\n");
    } else {
        const struct mb_info *mbi = (const struct mb_info *)boot_info;
        u64 ram = 0;
        if (mbi->flags & 64) {
            for (u32 p = mbi->mmap_addr; p < mbi->mmap_addr + mbi->mmap_length; p += *(u32 *)p + 4) {
                if (*(u32 *)(p + 20) == 1) ram += *(u64 *)(p + 12);
            }
        }
        puts_("  Memory:       "); putdec((ram + 0x60400) >> 20); puts_(" MiB usable RAM (");
        putdec(mbi->mem_lower); puts_(" KiB low, "); putdec(mbi->mem_upper); puts_(" KiB from 1 MiB)\n");
        puts_("  Command line: ");
        puts_((mbi->flags & 4) ? (const char *)mbi->cmdline : "(none)");
        puts_("\n  Modules:      "); putdec((mbi->flags & 8) ? mbi->mods_count : 0);
        puts_("\n");
    }
    puts_("Powering off through isa-debug-exit (port 0x501, exit status 1).\n");
    outw(0x501, 0);
    for (;;) __asm__ volatile("cli; hlt");
}
