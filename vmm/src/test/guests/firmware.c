/*
 * Prints what a guest finds of the machine's firmware interfaces, so the VMM's can be compared with QEMU microvm's
 * byte for byte: fw_cfg (signature, id, the numbered items, the kernel/initrd/command-line/setup data, the file
 * directory and each file's contents, read through the I/O ports, then the DMA interface's cases: select, read,
 * skip, reads past an item's end, a write to a read-only item, targets outside RAM, a descriptor outside RAM, and
 * odd-sized port accesses) and ACPI (the RSDP found by scanning the BIOS area as Linux does, the XSDT, every
 * table it lists, and the FADT's DSDT), all in hex. Exits with 0x21.
 *
 * Built three ways, so that the loader-dependent items can be seen for each kind of kernel: as a Multiboot ELF
 * (firmware.elf), as a PVH ELF (-DPVH: firmware-pvh.elf) and as the protected-mode kernel of a bzImage
 * (-DBZIMAGE, flat at 1 MiB; bzfirmware.S's setup code enters it: firmware-bz.bin).
 */
#include "guest.h"
#if defined(PVH)
__asm__(".pushsection .note.Xen, \"a\", @note\n"
        ".align 4\n"
        ".long 4, 4, 18\n .asciz \"Xen\"\n .align 4\n .long _start\n .align 4\n"
        ".popsection");
#define VARIANT "pvh"
#elif defined(BZIMAGE)
/* bzfirmware.S's setup code jumps to 1 MiB, where multiboot.ld puts the .multiboot section first. */
__asm__(".pushsection .multiboot, \"ax\"\n jmp _start\n .popsection");
#define VARIANT "bzimage"
#else
__attribute__((section(".multiboot"), used, aligned(4))) const u32 mbh[3] = {0x1BADB002u, 3, -(0x1BADB002u + 3)};
#define VARIANT "multiboot"
#endif
__asm__(".globl _start, pvh_start\n_start:\npvh_start:\n  mov $stack_top, %esp\n  call cmain\n1: cli; hlt; jmp 1b\n"
        ".section .bss\n.align 16\n  .space 16384\nstack_top:\n.text\n");

static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline u16 inw(u16 port) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 inl(u16 port) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
#define barrier() __asm__ volatile("" ::: "memory")
#define FW_CFG_CTL 0x510
#define FW_CFG_DATA 0x511
#define FW_CFG_DMA 0x514

static void fw_select(u16 key) { outw(FW_CFG_CTL, key); }
static void fw_read(void *buf, u32 len) { u8 *p = buf; for (u32 i = 0; i < len; i++) p[i] = inb(FW_CFG_DATA); }
static u32 be32(const u8 *b) { return (u32)b[0] << 24 | (u32)b[1] << 16 | (u32)b[2] << 8 | b[3]; }
static u16 be16(const u8 *b) { return (u16)(b[0] << 8 | b[1]); }
static u32 le32(const u8 *p) { return p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24; }

static void hexdump(const char *what, const u8 *p, u32 len) {
    puts_(what); puts_(" len="); puthex(len); puts_("\n");
    for (u32 i = 0; i < len; i++) {
        puts_(i % 32 == 0 ? " " : "");
        putc_("0123456789abcdef"[p[i] >> 4]); putc_("0123456789abcdef"[p[i] & 15]);
        if (i % 32 == 31 || i + 1 == len) puts_("\n");
    }
}

static u8 buf[65536];
struct dma { u32 control, length; u64 address; } __attribute__((packed, aligned(16)));
static volatile struct dma d;

/* One DMA transfer described at descriptor address `at` (normally &d); returns the control word after it. */
static u32 dma_at(u64 at, u32 control, u32 len, u64 target) {
    d.control = __builtin_bswap32(control);
    d.length = __builtin_bswap32(len);
    d.address = __builtin_bswap64(target);
    barrier();
    outl(FW_CFG_DMA, __builtin_bswap32((u32)(at >> 32)));
    outl(FW_CFG_DMA + 4, __builtin_bswap32((u32)at));
    barrier();
    return __builtin_bswap32(d.control);
}
static u32 dma(u32 control, u32 len, u64 target) { return dma_at((u32)&d, control, len, target); }
#define SEL(key) ((u32)(key) << 16 | 0x08)
#define DREAD 0x02
#define DSKIP 0x04
#define DWRITE 0x10

static u32 get32(u16 key) { u8 b[4]; fw_select(key); fw_read(b, 4); return le32(b); }

static void item(const char *name, u16 key, u32 len) {
    fw_select(key);
    fw_read(buf, len);
    hexdump(name, buf, len);
}

static int prefix(const char *s, const char *p) { while (*p) if (*s++ != *p++) return 0; return 1; }
static int streq(const char *s, const char *t) { return prefix(s, t) && s[__builtin_strlen(t)] == 0; }

static u32 checksum(const u8 *p, u32 n, u32 s) { for (u32 i = 0; i < n; i++) s = s * 31 + p[i]; return s; }

/*
 * `len` bytes of the selected item from its current offset into buf through DMA (a first transfer that selects
 * `key` when `select` is set, the rest continuing where the last ended); returns the control words ORed.
 */
static u32 dma_read(u16 key, int select, u32 len) {
    u32 ctl = 0;
    for (u32 done = 0; done < len; ) {
        u32 n = len - done < sizeof(buf) ? len - done : sizeof(buf);
        ctl |= dma((select && done == 0 ? SEL(key) : 0) | DREAD, n, (u32)buf);
        done += n;
    }
    return ctl;
}

/*
 * A data item: its first bytes through the ports, and a checksum of its first `sum` bytes through DMA (at most
 * 64 KiB: the buffer's size).
 */
static void data_item(const char *name, u16 key, u32 size, u32 sum) {
    u32 show = size < 32 ? size : 32;
    fw_select(key);
    fw_read(buf, show);
    hexdump(name, buf, show);
    if (sum > sizeof(buf)) sum = sizeof(buf);
    u32 ctl = dma_read(key, 1, sum);
    puts_(" checksum of "); puthex(sum); puts_(" bytes="); puthex(checksum(buf, sum, 0)); puts_(" control=");
    puthex(ctl); puts_("\n");
}

extern char __load_start[], _end[];

static void fw_cfg(void) {
    u8 b[8];
    fw_select(0x0000); fw_read(b, 4);
    puts_("fw_cfg.signature="); putsafe((char *)b, 4); puts_("\n");
    if (b[0] != 'Q') return;
    item("fw_cfg.id", 0x0001, 4);
    item("fw_cfg.uuid", 0x0002, 16);
    item("fw_cfg.ram_size", 0x0003, 8);
    item("fw_cfg.nographic", 0x0004, 2);
    item("fw_cfg.nb_cpus", 0x0005, 2);
    item("fw_cfg.boot_device", 0x000c, 2);
    item("fw_cfg.numa", 0x000d, 8);
    item("fw_cfg.boot_menu", 0x000e, 2);
    item("fw_cfg.max_cpus", 0x000f, 2);
    item("fw_cfg.kernel_addr", 0x0007, 4);
    item("fw_cfg.kernel_size", 0x0008, 4);
    item("fw_cfg.kernel_cmdline", 0x0009, 4);
    item("fw_cfg.initrd_addr", 0x000a, 4);
    item("fw_cfg.initrd_size", 0x000b, 4);
    item("fw_cfg.kernel_entry", 0x0010, 4);
    item("fw_cfg.cmdline_addr", 0x0013, 4);
    item("fw_cfg.cmdline_size", 0x0014, 4);
    item("fw_cfg.setup_addr", 0x0016, 4);
    item("fw_cfg.setup_size", 0x0017, 4);
    item("fw_cfg.irq0_override", 0x8002, 4);
    item("fw_cfg.e820_legacy", 0x8003, 4);
    /*
     * The data items. Where QEMU leaves bytes undefined they are not summed: under Multiboot its kernel data is
     * its Multiboot buffer, with uninitialized padding (only the kernel image at its start is summed); under PVH
     * its setup data points at a stack buffer of a function that has returned (none is summed).
     */
    u32 ksize = get32(0x0008);
#if defined(PVH) || defined(BZIMAGE)
    u32 ksum = ksize;
#else
    u32 ksum = (u32)(_end - __load_start) < ksize ? (u32)(_end - __load_start) : ksize;
#endif
    data_item("fw_cfg.kernel_data", 0x0011, ksize, ksum);
    u32 isize = get32(0x000b);
    data_item("fw_cfg.initrd_data", 0x0012, isize, isize);
    u32 csize = get32(0x0014);
    data_item("fw_cfg.cmdline_data", 0x0015, csize, csize);
#if defined(PVH)
    puts_("fw_cfg.setup_data: undefined under QEMU\n");
#else
    u32 ssize = get32(0x0017);
    data_item("fw_cfg.setup_data", 0x0018, ssize, ssize);
#endif
    /*
     * The file directory, through DMA after its count: each file by name, size and contents (small ones through
     * the ports, with what lies past their end; the others through DMA, summed). Selectors are not printed: they
     * may differ where the VMMs' file lists differ, and each file is read through its own.
     */
    static u8 dir[64 * 64];
    u32 n = __builtin_bswap32(get32(0x0019)); /* the count is big-endian */
    if (n > 64) n = 64;
    u32 ctl = dma(DREAD, 64 * n, (u32)dir);
    puts_("fw_cfg.directory control="); puthex(ctl); puts_("\n");
    for (u32 i = 0; i < n; i++) {
        const u8 *e = dir + 64 * i;
        u32 size = be32(e); u16 sel = be16(e + 4);
        /* Not offered by this VMM (README: QEMU's device tree and option ROMs): skipped by name, nothing else. */
        if (streq((const char *)e + 8, "etc/fdt") || prefix((const char *)e + 8, "genroms/")) continue;
        puts_("fw_cfg.file "); putsafe((char *)e + 8, 56); puts_(" size="); puthex(size); puts_("\n");
        if (size <= 64) {
            fw_select(sel); fw_read(buf, size + 4);
            hexdump(" data", buf, size);
            puts_(" past end="); puthex(le32(buf + size)); puts_("\n");
        } else if (size <= sizeof(buf)) {
            ctl = dma_read(sel, 1, size);
            puts_(" checksum="); puthex(checksum(buf, size, 0)); puts_(" control="); puthex(ctl); puts_("\n");
        }
    }
}

static void fw_cfg_dma(void) {
    u32 id = get32(0x0001);
    if (!(id & 2)) return;
    u32 c;
    /* select and read: the signature */
    buf[0] = buf[1] = buf[2] = buf[3] = 0;
    c = dma(SEL(0) | DREAD, 4, (u32)buf);
    puts_("fw_cfg.dma.signature control="); puthex(c); puts_(" data="); putsafe((char *)buf, 4); puts_("\n");
    /* skip 4 bytes of the directory, then read its first entry */
    dma(SEL(0x19) | DSKIP, 4, 0);
    c = dma(DREAD, 64, (u32)buf);
    puts_("fw_cfg.dma.skip control="); puthex(c); puts_("\n");
    hexdump(" dir[0]", buf, 64);
    /* a read past the end of a 2-byte item: the rest zero */
    for (int i = 0; i < 8; i++) buf[i] = 0xaa;
    c = dma(SEL(0x05) | DREAD, 8, (u32)buf);
    puts_("fw_cfg.dma.past-end control="); puthex(c); puts_("\n");
    hexdump(" data", buf, 8);
    /* reading on from there, and from a key that selects nothing */
    for (int i = 0; i < 4; i++) buf[i] = 0xaa;
    c = dma(DREAD, 4, (u32)buf);
    puts_("fw_cfg.dma.after-end control="); puthex(c); puts_(" data="); puthex(le32(buf)); puts_("\n");
    for (int i = 0; i < 4; i++) buf[i] = 0xaa;
    c = dma(SEL(0x3fff) | DREAD, 4, (u32)buf);
    puts_("fw_cfg.dma.invalid-key control="); puthex(c); puts_(" data="); puthex(le32(buf)); puts_("\n");
    /* a select alone moves the port's data pointer */
    c = dma(SEL(0), 0, 0);
    u8 b[4]; fw_read(b, 4);
    puts_("fw_cfg.dma.select-only control="); puthex(c); puts_(" then ports read "); putsafe((char *)b, 4);
    puts_("\n");
    /* items are read-only */
    c = dma(SEL(0) | DWRITE, 4, (u32)buf);
    puts_("fw_cfg.dma.write control="); puthex(c); puts_("\n");
    /* no operation: length ignored */
    c = dma(0, 4, (u32)buf);
    puts_("fw_cfg.dma.nop control="); puthex(c); puts_("\n");
    /* a target outside RAM (64 GiB) sets the error bit */
    c = dma(SEL(0) | DREAD, 4, 0x1000000000ull);
    puts_("fw_cfg.dma.target-outside-ram control="); puthex(c); puts_("\n");
    /* a descriptor outside RAM: nothing happens, the device still works */
    dma_at(0x1000000000ull, SEL(0) | DREAD, 4, (u32)buf);
    puts_("fw_cfg.dma.descriptor-outside-ram control="); puthex(__builtin_bswap32(d.control)); puts_("\n");
    /* odd-sized port accesses */
    fw_select(0x0000);
    puts_("fw_cfg.port inb(0x510)="); puthex(inb(0x510));
    puts_(" inw(0x510)="); puthex(inw(0x510));
    puts_(" inw(0x511)="); puthex(inw(0x511));
    puts_(" inl(0x510)="); puthex(inl(0x510));
    puts_("\nfw_cfg.port inl(0x514)="); puthex(inl(0x514));
    puts_(" inl(0x518)="); puthex(inl(0x518));
    puts_(" inw(0x515)="); puthex(inw(0x515));
    puts_(" inl(0x516)="); puthex(inl(0x516));
    puts_(" inb(0x51b)="); puthex(inb(0x51b));
    puts_(" inl(0x51a)="); puthex(inl(0x51a));
    outb(0x511, 0x12); /* ignored */
    outl(0x510, 0xffff0001); /* selects 1 with its low half */
    puts_("\nfw_cfg.port after outl(0x510): "); puthex(inb(0x511)); puts_("\n");
}

static int sig(const u8 *p, const char *s) { for (int i = 0; s[i]; i++) if (p[i] != (u8)s[i]) return 0; return 1; }

static void acpi(void) {
    const u8 *rsdp = 0;
    for (u32 a = 0xe0000; a < 0x100000; a += 16) if (sig((u8 *)a, "RSD PTR ")) { rsdp = (u8 *)a; break; }
    if (!rsdp) { puts_("acpi.rsdp=none\n"); return; }
    field("acpi.rsdp.address", (u32)rsdp);
    hexdump("acpi.rsdp", rsdp, rsdp[15] >= 2 ? 36 : 20);
    u32 xsdt = le32(rsdp + 24);
    if (rsdp[15] < 2 || !xsdt) return;
    const u8 *x = (u8 *)xsdt;
    field("acpi.xsdt.address", xsdt);
    hexdump("acpi.XSDT", x, le32(x + 4));
    for (u32 off = 36; off + 8 <= le32(x + 4); off += 8) {
        const u8 *t = (u8 *)le32(x + off);
        char name[] = "acpi.????";
        for (int i = 0; i < 4; i++) name[5 + i] = t[i];
        field("acpi.table.address", (u32)t);
        hexdump(name, t, le32(t + 4));
        if (sig(t, "FACP")) {
            const u8 *dsdt = (u8 *)le32(t + 40);
            field("acpi.dsdt.address", (u32)dsdt);
            hexdump("acpi.DSDT", dsdt, le32(dsdt + 4));
        }
    }
}

void cmain(void) {
    puts_("firmware guest (" VARIANT ")\n");
    fw_cfg();
    fw_cfg_dma();
    acpi();
    puts_("bye\n");
    debug_exit(0x21);
}
