package io.isthmus.vmm.boot;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Loads a Linux bzImage by the x86 boot protocol exactly as QEMU does for {@code -kernel} on microvm
 * ({@code x86_load_linux} in hw/i386/x86.c, then the firmware's jump into the setup code): setup sectors at
 * 0x10000 (0x90000 for old or low kernels), the protected-mode kernel at 1 MiB, the command line at 0x20000,
 * the initrd at the top of what the header's {@code initrd_addr_max} and low RAM allow, page-aligned; the setup
 * header patched (loader type 0xb0, CAN_USE_HEAP, heap_end_ptr, cmd_line_ptr, ramdisk_image/size, vid_mode from
 * {@code vga=}). The entry is QEMU's: real mode at {@code setup_seg+0x20:0}, data segments and SS = setup_seg,
 * SP = cmdline - setup - 16. (QEMU enters the 16-bit setup code, not the 32- or 64-bit entry, so this does too:
 * the same guest sees the same state.)
 *
 * <p>Except for a kernel that offers the 64-bit entry ({@code XLF_KERNEL_64}, boot protocol 2.12 and later: every
 * x86-64 Linux): its real-mode setup code asks the firmware for services this VMM has no firmware for (BIOS
 * {@code int 0x10}, {@code 0x13}, {@code 0x15}, {@code 0x16}: video, EDD, the memory map, the keyboard), which QEMU's
 * qboot provides, so it is entered where every microVM enters it, the 64-bit boot protocol's entry
 * ({@code startup_64}, 0x200 past the protected-mode kernel), in long mode with identity-mapped page tables and
 * RSI pointing at a {@code boot_params} ("zero page") filled as the setup code would fill it: the header, the
 * firmware's E820 map, the command line, the initrd. The kernel sees the same memory, devices and command line;
 * what it does not get is what only its real-mode code collects (EDD disk data, the video BIOS's mode). Stateless;
 * thread-safe.
 */
public final class LinuxLoader {
    private static final int HDRS = 0x53726448;
    /** How much of the file QEMU's {@code x86_load_linux} reads as the header. */
    private static final int HEADER_BYTES = 8192;
    /** Where the 64-bit entry's {@code boot_params} go: where the real-mode setup code would be loaded. */
    public static final long BOOT_PARAMS = 0x10000;
    /** xloadflags: the kernel has a 64-bit entry at 0x200 past its protected-mode start. */
    private static final int XLF_KERNEL_64 = 1;

    private LinuxLoader() {}

    /** Whether {@code image} carries the "HdrS" setup-header signature at 0x202. */
    public static boolean isBzImage(byte[] image) {
        return image.length >= 0x206 && ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).getInt(0x202) == HDRS;
    }

    /** Loads a bzImage and its initrd; returns the real-mode entry state. */
    public static BootState load(byte[] image, String path, String cmdline, String initrd, MemoryMap map,
                                 GuestRam ram) {
        // QEMU reads the header into a zeroed 8 KiB buffer: fields past the end of a short file read as 0.
        ByteBuffer h = ByteBuffer.wrap(image.length >= HEADER_BYTES ? image : java.util.Arrays.copyOf(image, HEADER_BYTES))
                .order(ByteOrder.LITTLE_ENDIAN);
        int protocol = h.getShort(0x206) & 0xffff;
        int loadflags = h.get(0x211) & 0xff;
        long realAddr, cmdlineAddr, protAddr;
        int cmdlineSize = (utf8(cmdline).length + 16) & ~15;
        if (protocol < 0x200 || (loadflags & 1) == 0) {
            realAddr = 0x90000;
            cmdlineAddr = 0x9a000 - cmdlineSize;
            protAddr = 0x10000;
        } else if (protocol < 0x202) {
            realAddr = 0x90000;
            cmdlineAddr = 0x9a000 - cmdlineSize;
            protAddr = 0x100000;
        } else {
            realAddr = 0x10000;
            cmdlineAddr = 0x20000;
            protAddr = 0x100000;
        }
        long initrdMax;
        int xloadflags = protocol >= 0x20c && image.length > 0x237 ? h.getShort(0x236) & 0xffff : 0;
        boolean entry64 = (xloadflags & XLF_KERNEL_64) != 0;
        if (protocol >= 0x20c && (xloadflags & 0x2) != 0) { // XLF_CAN_BE_LOADED_ABOVE_4G
            initrdMax = 0xffffffffL;
        } else if (protocol >= 0x203) {
            initrdMax = h.getInt(0x22c) & 0xffffffffL;
        } else {
            initrdMax = 0x37ffffff;
        }
        // microvm reserves nothing for ACPI tables at the top of low RAM (acpi_data_size 0).
        if (initrdMax >= map.lowRam()) {
            initrdMax = map.lowRam() - 1;
        }

        int setupSects = h.get(0x1f1) & 0xff;
        if (setupSects == 0) {
            setupSects = 4;
        }
        int setupSize = (setupSects + 1) * 512;
        if (setupSize > image.length) {
            throw new ImageFormatException("invalid kernel header: " + path + ": setup_sects " + (setupSects)
                    + " at offset 0x1f1 asks for " + setupSize + " bytes of setup code, but the file has "
                    + image.length + " bytes");
        }
        byte[] setup = java.util.Arrays.copyOf(image, setupSize);
        ByteBuffer s = ByteBuffer.wrap(setup).order(ByteOrder.LITTLE_ENDIAN);

        write(ram, cmdlineAddr, cstring(cmdline), "the command line");
        if (protocol >= 0x202) {
            s.putInt(0x228, (int) cmdlineAddr);
        } else {
            s.putShort(0x20, (short) 0xa33f);
            s.putShort(0x22, (short) (cmdlineAddr - realAddr));
        }
        int vga = vgaMode(cmdline);
        if (vga != Integer.MIN_VALUE) {
            s.putShort(0x1fa, (short) vga);
        }
        if (protocol >= 0x200) {
            setup[0x210] = (byte) 0xb0;
        }
        if (protocol >= 0x201) {
            setup[0x211] = (byte) (setup[0x211] | 0x80);
            s.putShort(0x224, (short) (cmdlineAddr - realAddr - 0x200));
        }
        FwCfgKernel.Blob initrdItem = FwCfgKernel.Blob.NONE;
        if (initrd != null) {
            if (protocol < 0x200) {
                throw new ImageFormatException("linux kernel too old to load a ram disk (" + path
                        + ": boot protocol 0x" + Integer.toHexString(protocol) + " at offset 0x206)");
            }
            byte[] rd;
            try {
                rd = Files.readAllBytes(Path.of(initrd));
            } catch (IOException | RuntimeException e) {
                throw new ImageFormatException("could not load initial ram disk '" + initrd + "'");
            }
            if (rd.length > initrdMax) {
                throw new ImageFormatException("initrd is too large, cannot support (max: " + initrdMax
                        + ", need " + rd.length + ")");
            }
            long initrdAddr = (initrdMax - rd.length) & ~4095L;
            write(ram, initrdAddr, rd, "the initrd");
            s.putInt(0x218, (int) initrdAddr);
            s.putInt(0x21c, rd.length);
            initrdItem = FwCfgKernel.Blob.of(initrdAddr, rd);
        }
        byte[] kernel = java.util.Arrays.copyOfRange(image, setupSize, image.length);
        write(ram, protAddr, kernel, "the kernel");
        // QEMU's items: the same parts at the same addresses, the setup code with its patched header.
        FwCfgKernel fwCfg = new FwCfgKernel(FwCfgKernel.Blob.of(protAddr, kernel), initrdItem,
                FwCfgKernel.Blob.string(cmdlineAddr, cmdline), FwCfgKernel.Blob.of(realAddr, setup), 0,
                "linuxboot_dma.bin");
        if (entry64) {
            write(ram, BOOT_PARAMS, bootParams(setup, map), "the boot parameters");
            // startup_64 sets up its own stack and GDT; the stack here only has to be RAM nobody else uses.
            return new BootState(BootState.Mode.LONG, protAddr + 0x200, 0, 0, 0, 0, BOOT_PARAMS, 0x8ff0, 0, 0)
                    .withFwCfg(fwCfg);
        }
        write(ram, realAddr, setup, "the setup code");
        int seg = (int) (realAddr >> 4);
        return new BootState(BootState.Mode.REAL, 0, 0, 0, 0, 0, 0, cmdlineAddr - realAddr - 16, seg + 0x20, seg)
                .withFwCfg(fwCfg);
    }

    /**
     * The 64-bit entry's zero page: the (already patched) setup header at 0x1f1 as the header's own length says,
     * the E820 map (count at 0x1e8, 20-byte entries from 0x2d0), {@code alt_mem_k}; everything else zero, as the
     * boot protocol asks of a boot loader that skips the setup code.
     */
    static byte[] bootParams(byte[] setup, MemoryMap map) {
        byte[] bp = new byte[4096];
        int headerEnd = Math.min(0x202 + (setup[0x201] & 0xff), setup.length);
        System.arraycopy(setup, 0x1f1, bp, 0x1f1, headerEnd - 0x1f1);
        ByteBuffer b = ByteBuffer.wrap(bp).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0x1e0, (int) map.memUpperKiB());
        List<MemoryMap.E820Entry> e820 = map.e820();
        bp[0x1e8] = (byte) e820.size();
        for (int i = 0; i < e820.size(); i++) {
            MemoryMap.E820Entry e = e820.get(i);
            b.putLong(0x2d0 + 20 * i, e.base()).putLong(0x2d0 + 20 * i + 8, e.length()).putInt(0x2d0 + 20 * i + 16,
                    e.type());
        }
        return bp;
    }

    /**
     * QEMU's {@code vga=} handling: the first "vga=" anywhere in the command line, then a prefix match of normal,
     * ext or ask, else C's {@code strtol(..., 0)} of what follows; MIN_VALUE when absent.
     */
    private static int vgaMode(String cmdline) {
        int i = cmdline.indexOf("vga=");
        if (i < 0) {
            return Integer.MIN_VALUE;
        }
        String v = cmdline.substring(i + 4);
        if (v.startsWith("normal")) {
            return 0xffff;
        }
        if (v.startsWith("ext")) {
            return 0xfffe;
        }
        if (v.startsWith("ask")) {
            return 0xfffd;
        }
        int radix = 10, p = 0;
        if (v.startsWith("0x") || v.startsWith("0X")) {
            radix = 16;
            p = 2;
        } else if (v.startsWith("0")) {
            radix = 8;
        }
        long n = 0;
        for (; p < v.length() && Character.digit(v.charAt(p), radix) >= 0; p++) {
            n = n * radix + Character.digit(v.charAt(p), radix);
        }
        return (int) n;
    }

    private static void write(GuestRam ram, long gpa, byte[] data, String what) {
        if (!ram.isRam(gpa, data.length)) {
            throw new ImageFormatException("Linux boot: " + what + " (0x" + Long.toHexString(data.length)
                    + " bytes at 0x" + Long.toHexString(gpa) + ") does not fit in guest RAM; give more memory with -m");
        }
        ram.write(gpa, data);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] cstring(String s) {
        byte[] u = utf8(s);
        return java.util.Arrays.copyOf(u, u.length + 1);
    }
}
