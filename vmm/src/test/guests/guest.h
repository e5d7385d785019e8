/* Shared by the test guests: port I/O, a polled 16550 on COM1, number printing, isa-debug-exit. Freestanding. */
#ifndef GUEST_H
#define GUEST_H
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

#define COM1 0x3f8
static void putc_(char c) {
    while (!(inb(COM1 + 5) & 0x20)) { }
    outb(COM1, (u8)c);
}
static void puts_(const char *s) { while (*s) { if (*s == '\n') putc_('\r'); putc_(*s++); } }
static void puthex(u64 v) {
    char b[19]; int i = 18; b[i] = 0;
    do { b[--i] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    b[--i] = 'x'; b[--i] = '0';
    puts_(b + i);
}
static void putdec(u64 v) {
    char b[21]; int i = 20; b[i] = 0;
    do { b[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    puts_(b + i);
}
static void field(const char *name, u64 v) { puts_(name); puts_("="); puthex(v); puts_("\n"); }
static void putsafe(const char *s, u32 max) {
    for (u32 i = 0; i < max && s[i]; i++) putc_(s[i] >= 32 && s[i] < 127 ? s[i] : '?');
}
/* isa-debug-exit at 0xf4 (the tests pass -device isa-debug-exit,iobase=0xf4,iosize=4): status (v << 1) | 1. */
static void __attribute__((noreturn)) debug_exit(u32 v) {
    outl(0xf4, v);
    for (;;) __asm__ volatile("cli; hlt");
}
#endif
