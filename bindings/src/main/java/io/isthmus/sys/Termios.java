package io.isthmus.sys;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A terminal's settings: the kernel's {@code struct termios} as {@code TCGETS} reads and {@code TCSETS} writes it
 * ({@code <asm/termbits.h>}: four flag words, the line discipline, 19 control characters; 36 bytes), and the flags
 * a VMM changes to put its console in raw mode.
 *
 * <p>Hand-written, not generated: glibc's {@code struct termios} (60 bytes, with speeds) is not the kernel's, and
 * both cannot be included in one translation unit for jextract. The flag and ioctl constants carry their C macro
 * names so that the layout conformance test checks each against {@code <termios.h>}.
 *
 * <p>Lifetime: the settings live in GC-reclaimed native memory. Not thread-safe.
 */
public final class Termios {
    /** ioctl requests ({@code TCSETS} applies at once, as {@code tcsetattr(TCSANOW)}). */
    public static final int TCGETS = 0x5401, TCSETS = 0x5402;
    /** c_iflag bits. */
    public static final int IGNBRK = 0x1, BRKINT = 0x2, PARMRK = 0x8, ISTRIP = 0x20, INLCR = 0x40, IGNCR = 0x80,
            ICRNL = 0x100, IXON = 0x400;
    /** c_oflag bits. */
    public static final int OPOST = 0x1;
    /** c_cflag bits. */
    public static final int CSIZE = 0x30, CS8 = 0x30, PARENB = 0x100;
    /** c_lflag bits. */
    public static final int ISIG = 0x1, ICANON = 0x2, ECHO = 0x8, ECHONL = 0x40, IEXTEN = 0x8000;
    /** c_cc indexes. */
    public static final int VTIME = 5, VMIN = 6;

    private static final long IFLAG = 0, OFLAG = 4, CFLAG = 8, LFLAG = 12, CC = 17, SIZE = 36;

    private final MemorySegment s;

    private Termios() {
        this.s = Arena.ofAuto().allocate(SIZE, 4);
    }

    /**
     * {@code TCGETS} on {@code fd}: its settings, or {@code null} when {@code fd} is not a terminal.
     *
     * @throws NativeException for any other failure (a closed descriptor, say)
     */
    public static Termios get(int fd) {
        Termios t = new Termios();
        int r = Libc.ioctlRaw(fd, TCGETS, t.s);
        if (r == -Errno.ENOTTY || r == -Errno.EINVAL) {
            return null;
        }
        if (r < 0) {
            throw new NativeException("ioctl TCGETS on fd " + fd, -r);
        }
        return t;
    }

    /** {@code TCSETS} on {@code fd}: applies these settings at once. */
    public void set(int fd) {
        int r = Libc.ioctlRaw(fd, TCSETS, s);
        if (r < 0) {
            throw new NativeException("ioctl TCSETS on fd " + fd, -r);
        }
    }

    /** An independent copy. */
    public Termios copy() {
        Termios t = new Termios();
        t.s.copyFrom(s);
        return t;
    }

    /**
     * These settings made raw as QEMU makes its stdio console ({@code qemu_chr_set_echo_stdio(chr, false)}): no
     * input translation, flow control or break handling, no echo, no line editing, 8-bit characters, reads that
     * return each byte as it comes; output post-processing stays on (the guest's {@code \n} still starts a new
     * line). With {@code allowSignals} (QEMU's {@code signal=on}, the default) Ctrl-C still interrupts the VMM.
     */
    public Termios raw(boolean allowSignals) {
        iflag(iflag() & ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON));
        oflag(oflag() | OPOST);
        lflag(lflag() & ~(ECHO | ECHONL | ICANON | IEXTEN | (allowSignals ? 0 : ISIG)));
        cflag((cflag() & ~(CSIZE | PARENB)) | CS8);
        cc(VMIN, 1);
        cc(VTIME, 0);
        return this;
    }

    public int iflag() { return s.get(JAVA_INT, IFLAG); }
    public Termios iflag(int v) { s.set(JAVA_INT, IFLAG, v); return this; }
    public int oflag() { return s.get(JAVA_INT, OFLAG); }
    public Termios oflag(int v) { s.set(JAVA_INT, OFLAG, v); return this; }
    public int cflag() { return s.get(JAVA_INT, CFLAG); }
    public Termios cflag(int v) { s.set(JAVA_INT, CFLAG, v); return this; }
    public int lflag() { return s.get(JAVA_INT, LFLAG); }
    public Termios lflag(int v) { s.set(JAVA_INT, LFLAG, v); return this; }
    /** Control character {@code index} ({@link #VMIN}, {@link #VTIME}, …). */
    public int cc(int index) { return s.get(JAVA_BYTE, CC + index) & 0xFF; }
    public Termios cc(int index, int v) { s.set(JAVA_BYTE, CC + index, (byte) v); return this; }
}
