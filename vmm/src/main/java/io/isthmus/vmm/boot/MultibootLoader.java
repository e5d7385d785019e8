package io.isthmus.vmm.boot;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Loads a Multiboot v1 kernel (ELF, or any format through the a.out kludge) exactly as QEMU does for
 * {@code -kernel}: {@code hw/i386/multiboot.c} lays out the kernel, the module and command-line strings and
 * the information structure, and its option ROM ({@code pc-bios/optionrom/multiboot.S}) adds the firmware's
 * E820 map and memory sizes and enters the kernel. The result is byte-for-byte what a guest sees under
 * {@code qemu-system-x86_64 -M microvm}: same addresses, same strings, same map (see {@link MemoryMap}).
 *
 * <p>Layout (QEMU's): the kernel at its load address; after it, page-aligned, the module records, the command
 * lines (module strings first, then "KERNEL_PATH APPEND"), the boot loader name "qemu"; then each module,
 * page-aligned. The E820 map at 0x9000, the information structure at 0x9500. Stateless; thread-safe.
 */
public final class MultibootLoader {
    public static final int HEADER_MAGIC = 0x1BADB002;
    public static final int BOOTLOADER_MAGIC = 0x2BADB002;
    /** Where QEMU's option ROM stores the memory map and QEMU the information structure. */
    public static final long MMAP_ADDR = 0x9000, MBI_ADDR = 0x9500;
    private static final int MBI_SIZE = 88;
    private static final int FLAG_HAS_VBE = 1 << 2, FLAG_HAS_ADDR = 1 << 16;
    private static final int MBI_FLAGS = 1 | 1 << 1 | 1 << 2 | 1 << 3 | 1 << 6 | 1 << 9;
    private static final String BOOTLOADER_NAME = "qemu";
    private static final int PAGE = 4096;

    private MultibootLoader() {}

    /** The offset of a valid Multiboot header in the first 8 KiB of {@code image}, or -1 (QEMU's scan). */
    public static int findHeader(byte[] image) {
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 8192 - 48 && i + 12 <= image.length; i += 4) {
            if (b.getInt(i) == HEADER_MAGIC && b.getInt(i + 8) + b.getInt(i + 4) + HEADER_MAGIC == 0) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Loads {@code kernel} (already read from {@code kernelPath}) with its modules into {@code ram}.
     *
     * @param cmdline the {@code -append} text ("" when absent)
     * @param initrd  the {@code -initrd} text: modules separated by commas ({@code ,,} escapes a comma), each a
     *                path optionally followed by a space and its argument string; {@code null} for none
     * @param warnings where QEMU's warnings go (stderr)
     */
    public static BootState load(byte[] kernel, String kernelPath, String cmdline, String initrd,
                                 MemoryMap map, GuestRam ram, PrintStream warnings) {
        int h = findHeader(kernel);
        if (h < 0) {
            throw new ImageFormatException(kernelPath + ": no Multiboot header (magic 0x1BADB002 with a valid"
                    + " checksum) in the first 8 KiB");
        }
        ByteBuffer b = ByteBuffer.wrap(kernel).order(ByteOrder.LITTLE_ENDIAN);
        int flags = b.getInt(h + 4);
        if ((flags & FLAG_HAS_VBE) != 0) {
            warnings.println("isthmus-vmm: multiboot knows VBE. we don't.");
        }
        long loadAddr, entry;
        byte[] kimage;
        if ((flags & FLAG_HAS_ADDR) == 0) {
            if (Elf.machineOf(kernel) == Elf.EM_X86_64) {
                throw new ImageFormatException("Cannot load x86-64 image, give a 32bit one.");
            }
            Elf elf;
            try {
                elf = Elf.parse(kernel, kernelPath);
            } catch (ImageFormatException e) {
                throw new ImageFormatException("Error while loading elf kernel: " + e.getMessage()
                        + " (the Multiboot header at offset 0x" + Integer.toHexString(h) + " has flag 16 clear,"
                        + " so the kernel must be ELF; set flag 16 and the address fields for a flat binary)");
            }
            if (elf.machine() != Elf.EM_386) {
                throw new ImageFormatException("Error while loading elf kernel: " + kernelPath + ": ELF header at"
                        + " offset 0x12: e_machine " + elf.machine() + " is not EM_386 (3)");
            }
            loadAddr = elf.low();
            entry = elf.entry();
            // Checked before the image is built: a header may ask for gigabytes.
            fits(ram, loadAddr, elf.span(), "the kernel");
            kimage = elf.image(kernel);
        } else {
            if (h + 32 > kernel.length) {
                throw new ImageFormatException(kernelPath + ": Multiboot header at offset 0x"
                        + Integer.toHexString(h) + " sets flag 16 but the file ends before its address fields");
            }
            long headerAddr = b.getInt(h + 12) & 0xffffffffL;
            loadAddr = b.getInt(h + 16) & 0xffffffffL;
            long loadEnd = b.getInt(h + 20) & 0xffffffffL;
            long bssEnd = b.getInt(h + 24) & 0xffffffffL;
            entry = b.getInt(h + 28) & 0xffffffffL;
            String at = kernelPath + ": Multiboot header at offset 0x" + Integer.toHexString(h) + ": ";
            if (headerAddr < loadAddr) {
                throw new ImageFormatException("invalid load_addr address (" + at + "header_addr 0x"
                        + Long.toHexString(headerAddr) + " is below load_addr 0x" + Long.toHexString(loadAddr) + ")");
            }
            if (headerAddr - loadAddr > h) {
                throw new ImageFormatException("invalid header_addr address (" + at + "header_addr - load_addr = 0x"
                        + Long.toHexString(headerAddr - loadAddr) + " exceeds the header's file offset)");
            }
            long textOffset = h - (headerAddr - loadAddr);
            long loadSize;
            if (loadEnd != 0) {
                if (loadEnd < loadAddr) {
                    throw new ImageFormatException("invalid load_end_addr address (" + at + "load_end_addr 0x"
                            + Long.toHexString(loadEnd) + " is below load_addr 0x" + Long.toHexString(loadAddr) + ")");
                }
                loadSize = loadEnd - loadAddr;
            } else {
                loadSize = kernel.length - textOffset;
            }
            if (textOffset + loadSize > kernel.length) {
                throw new ImageFormatException("invalid load_end_addr address (" + at + "it asks for 0x"
                        + Long.toHexString(loadSize) + " bytes from file offset 0x" + Long.toHexString(textOffset)
                        + " but the file has " + kernel.length + " bytes)");
            }
            long kernelSize = loadSize;
            if (bssEnd != 0) {
                if (bssEnd < loadAddr + loadSize) {
                    throw new ImageFormatException("invalid bss_end_addr address (" + at + "bss_end_addr 0x"
                            + Long.toHexString(bssEnd) + " is below load_end_addr 0x"
                            + Long.toHexString(loadAddr + loadSize) + ")");
                }
                kernelSize = bssEnd - loadAddr;
            }
            if (kernelSize > Integer.MAX_VALUE - PAGE) {
                throw new ImageFormatException(at + "kernel of 0x" + Long.toHexString(kernelSize) + " bytes is too large");
            }
            fits(ram, loadAddr, kernelSize, "the kernel");
            kimage = new byte[(int) kernelSize];
            System.arraycopy(kernel, (int) textOffset, kimage, 0, (int) loadSize);
        }

        // QEMU's MultibootState arithmetic, in the same order.
        long bufPhys = loadAddr;
        long bufSize = align(kimage.length);
        long offsetMbinfo = bufSize;
        long cmdlineLen = utf8(kernelPath).length + 1 + utf8(cmdline).length + 1;
        List<String> mods = List.of();
        if (initrd != null) {
            cmdlineLen += utf8(initrd).length + 1;
            mods = io.isthmus.vmm.config.QemuOpts.splitValues(initrd);
        }
        bufSize += cmdlineLen;
        bufSize += 16L * mods.size();
        bufSize += BOOTLOADER_NAME.length() + 1;
        bufSize = align(bufSize);
        long offsetCmdlines = offsetMbinfo + mods.size() * 16L;
        long offsetBootloader = offsetCmdlines + cmdlineLen;
        if (bufSize > Integer.MAX_VALUE - PAGE) {
            throw new ImageFormatException(kernelPath + ": Multiboot kernel of 0x" + Long.toHexString(bufSize)
                    + " bytes with its command lines is too large");
        }
        // QEMU's Multiboot buffer, which fw_cfg serves as the kernel's data: what is written to RAM from bufPhys on.
        // (QEMU leaves its padding uninitialized; it is zero here.)
        byte[] mb = Arrays.copyOf(kimage, (int) bufSize);

        write(ram, bufPhys, kimage, "the kernel");
        long cmdPtr = offsetCmdlines;
        for (int i = 0; i < mods.size(); i++) {
            String mod = mods.get(i);
            long stringAddr = bufPhys + cmdPtr;
            byte[] s = cstring(mod);
            write(ram, stringAddr, s, "module " + i + "'s string");
            System.arraycopy(s, 0, mb, (int) cmdPtr, s.length);
            cmdPtr += s.length;
            int space = mod.indexOf(' ');
            String file = space < 0 ? mod : mod.substring(0, space);
            byte[] data;
            try {
                data = Files.readAllBytes(Path.of(file));
            } catch (IOException | RuntimeException e) {
                throw new ImageFormatException("Failed to open file '" + file + "'");
            }
            long offs = bufSize;
            bufSize = align(data.length + bufSize);
            if (bufSize > Integer.MAX_VALUE - PAGE) {
                throw new ImageFormatException("Multiboot: the kernel and its modules (0x" + Long.toHexString(bufSize)
                        + " bytes up to module " + i + ", " + file + ") are too large");
            }
            write(ram, bufPhys + offs, data, "module " + i + " (" + file + ")");
            mb = Arrays.copyOf(mb, (int) bufSize);
            System.arraycopy(data, 0, mb, (int) offs, data.length);
            long rec = bufPhys + offsetMbinfo + 16L * i;
            ram.writeInt(rec, (int) (bufPhys + offs));
            ram.writeInt(rec + 4, (int) (bufPhys + offs + data.length));
            ram.writeInt(rec + 8, (int) stringAddr);
            ram.writeInt(rec + 12, 0);
            int r = (int) (offsetMbinfo + 16L * i);
            ByteBuffer.wrap(mb).order(ByteOrder.LITTLE_ENDIAN).putInt(r, (int) (bufPhys + offs))
                    .putInt(r + 4, (int) (bufPhys + offs + data.length)).putInt(r + 8, (int) stringAddr);
        }
        long kcmd = bufPhys + cmdPtr;
        byte[] kcmdBytes = cstring(kernelPath + " " + cmdline);
        write(ram, kcmd, kcmdBytes, "the command line");
        System.arraycopy(kcmdBytes, 0, mb, (int) cmdPtr, kcmdBytes.length);
        long loaderName = bufPhys + offsetBootloader;
        byte[] loaderBytes = cstring(BOOTLOADER_NAME);
        write(ram, loaderName, loaderBytes, "the boot loader name");
        System.arraycopy(loaderBytes, 0, mb, (int) offsetBootloader, loaderBytes.length);

        // The information structure, with the fields QEMU's option ROM fills from the firmware.
        List<MemoryMap.E820Entry> e820 = map.e820();
        byte[] mbi = new byte[MBI_SIZE];
        ByteBuffer m = ByteBuffer.wrap(mbi).order(ByteOrder.LITTLE_ENDIAN);
        m.putInt(0, MBI_FLAGS);
        m.putInt(4, map.memLowerKiB());
        m.putInt(8, (int) map.memUpperKiB());
        m.putInt(12, 0x8000ffff);
        m.putInt(16, (int) kcmd);
        m.putInt(20, mods.size());
        m.putInt(24, (int) (bufPhys + offsetMbinfo));
        // The option ROM's int 0x15 loop also stores the firmware's terminating empty entry.
        m.putInt(44, (e820.size() + 1) * 24);
        m.putInt(48, (int) MMAP_ADDR);
        m.putInt(64, (int) loaderName);
        ram.write(MBI_ADDR, mbi);
        byte[] mmap = new byte[(e820.size() + 1) * 24];
        ByteBuffer mm = ByteBuffer.wrap(mmap).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i <= e820.size(); i++) {
            mm.putInt(i * 24, 20);
            if (i < e820.size()) {
                MemoryMap.E820Entry e = e820.get(i);
                mm.putLong(i * 24 + 4, e.base());
                mm.putLong(i * 24 + 12, e.length());
                mm.putInt(i * 24 + 20, e.type());
            }
        }
        ram.write(MMAP_ADDR, mmap);
        // fw_cfg's "initrd" is the information structure as QEMU builds it, before its option ROM adds the memory
        // sizes and the map's length from the firmware.
        byte[] bootinfo = mbi.clone();
        ByteBuffer.wrap(bootinfo).order(ByteOrder.LITTLE_ENDIAN).putInt(4, 0).putInt(8, 0).putInt(44, 0);
        FwCfgKernel fwCfg = new FwCfgKernel(FwCfgKernel.Blob.of(bufPhys, mb), FwCfgKernel.Blob.of(MBI_ADDR, bootinfo),
                FwCfgKernel.Blob.NONE, FwCfgKernel.Blob.NONE, entry, "multiboot_dma.bin");
        // EDX: QEMU's Multiboot option ROM leaves its fw_cfg port (0x511) there; a guest can see it, so it is matched.
        return BootState.protectedFlat(entry, BOOTLOADER_MAGIC & 0xffffffffL, MBI_ADDR, 0x511).withFwCfg(fwCfg);
    }

    private static void write(GuestRam ram, long gpa, byte[] data, String what) {
        fits(ram, gpa, data.length, what);
        ram.write(gpa, data);
    }

    private static void fits(GuestRam ram, long gpa, long length, String what) {
        if (!ram.isRam(gpa, length)) {
            throw new ImageFormatException("Multiboot: " + what + " (0x" + Long.toHexString(length)
                    + " bytes at 0x" + Long.toHexString(gpa) + ") does not fit in guest RAM; give more memory with -m");
        }
    }

    private static long align(long v) {
        return (v + PAGE - 1) & -PAGE;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    private static byte[] cstring(String s) {
        byte[] u = utf8(s);
        byte[] out = new byte[u.length + 1];
        System.arraycopy(u, 0, out, 0, u.length);
        return out;
    }
}
