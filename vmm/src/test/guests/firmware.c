/*
 * Prints what a guest finds of the machine's firmware interfaces, so the VMM's can be compared with QEMU microvm's
 * byte for byte: fw_cfg (signature, id, the numbered items, the file directory and each file's contents, read
 * through the I/O ports and once through the DMA interface) and ACPI (the RSDP found by scanning the BIOS area as
 * Linux does, the XSDT, every table it lists, and the FADT's DSDT), all in hex. Exits with 0x21.
 */
#include "guest.h"
__attribute__((section(".multiboot"), used, aligned(4))) const u32 mbh[3] = {0x1BADB002u, 3, -(0x1BADB002u + 3)};
__asm__(".globl _start\n_start:\n  mov $stack_top, %esp\n  call cmain\n1: cli; hlt; jmp 1b\n"
        ".section .bss\n.align 16\n  .space 16384\nstack_top:\n.text\n");

static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
#define FW_CFG_CTL 0x510
#define FW_CFG_DATA 0x511
#define FW_CFG_DMA 0x514

static void fw_select(u16 key) { outw(FW_CFG_CTL, key); }
static void fw_read(void *buf, u32 len) { u8 *p = buf; for (u32 i = 0; i < len; i++) p[i] = inb(FW_CFG_DATA); }
static u32 be32(const u8 *b) { return (u32)b[0] << 24 | (u32)b[1] << 16 | (u32)b[2] << 8 | b[3]; }
static u16 be16(const u8 *b) { return (u16)(b[0] << 8 | b[1]); }

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
static struct dma d;

static void item(const char *name, u16 key, u32 len) {
    fw_select(key);
    fw_read(buf, len);
    hexdump(name, buf, len);
}

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
    fw_select(0x0019); fw_read(b, 4);
    u32 n = be32(b);
    puts_("fw_cfg.files="); putdec(n); puts_("\n");
    for (u32 i = 0; i < n && i < 64; i++) {
        u8 e[64];
        fw_select(0x0019); fw_read(b, 4); /* re-read the directory up to entry i: the data pointer resets on select */
        for (u32 j = 0; j <= i; j++) fw_read(e, 64);
        u32 size = be32(e); u16 sel = be16(e + 4);
        puts_("fw_cfg.file "); putsafe((char *)e + 8, 56); puts_(" select="); puthex(sel); puts_(" size=");
        puthex(size); puts_("\n");
        if (size <= sizeof(buf)) {
            fw_select(sel); fw_read(buf, size);
            hexdump(" data", buf, size < 4096 ? size : 4096);
        }
    }
    /* The DMA interface: the signature again, with a select in the control word. */
    u32 id; fw_select(0x0001); fw_read(&id, 4);
    if (id & 2) {
        d.control = __builtin_bswap32(0x0000 << 16 | 0x08 | 0x02); /* select key 0, read */
        d.length = __builtin_bswap32(4);
        d.address = __builtin_bswap64((u32)buf);
        buf[0] = buf[1] = buf[2] = buf[3] = 0;
        u64 a = (u32)&d;
        outl(FW_CFG_DMA, __builtin_bswap32((u32)(a >> 32)));
        outl(FW_CFG_DMA + 4, __builtin_bswap32((u32)a));
        puts_("fw_cfg.dma.control="); puthex(__builtin_bswap32(d.control)); puts_(" data=");
        putsafe((char *)buf, 4); puts_("\n");
    }
}

static int sig(const u8 *p, const char *s) { for (int i = 0; s[i]; i++) if (p[i] != (u8)s[i]) return 0; return 1; }
static u32 le32(const u8 *p) { return p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24; }

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
    puts_("firmware guest\n");
    fw_cfg();
    acpi();
    puts_("bye\n");
    debug_exit(0x21);
}
