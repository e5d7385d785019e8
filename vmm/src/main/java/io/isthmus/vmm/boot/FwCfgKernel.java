package io.isthmus.vmm.boot;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * What QEMU's loader for a {@code -kernel} image tells the firmware through fw_cfg, as QEMU 7.2 fills the items for
 * each kind of kernel: where the kernel, the initrd, the command line and the Linux setup code go, how large they
 * are and their bytes, the entry point, and the option ROM that boots it (which names the {@code bootorder} file's
 * entry). A guest reads these items (kernel_addr, kernel_size, kernel_data, initrd_*, cmdline_*, setup_*,
 * kernel_entry); an item QEMU does not fill reads as zeros, so here it is a zero address and an empty blob.
 *
 * <ul>
 * <li>Multiboot ({@code hw/i386/multiboot.c}): the kernel is QEMU's whole Multiboot buffer (the kernel image, the
 *     module records, the command lines, the boot loader name, the modules) at the kernel's load address; the
 *     "initrd" is the information structure at 0x9500 as QEMU builds it (the option ROM adds the memory fields);
 *     the entry is the kernel's; ROM {@code multiboot_dma.bin}.</li>
 * <li>Linux ({@code x86_load_linux}): kernel, command line, setup code (with its patched header) and initrd at the
 *     addresses the boot protocol picks; no entry; ROM {@code linuxboot_dma.bin}.</li>
 * <li>PVH ({@code load_elfboot}): the kernel's address and size (its segments are loaded as ROM blobs, not through
 *     fw_cfg), the PVH entry, the command line without an address, the file's first 8 KiB as the "setup", the
 *     initrd; ROM {@code pvh.bin}.</li>
 * </ul>
 *
 * <p>Immutable by convention: the blobs' arrays are shared, not copied (a kernel or initrd may be large), and nobody
 * writes them after the loader made them. Thread-safe.
 *
 * @param kernel    FW_CFG_KERNEL_ADDR, _SIZE and _DATA
 * @param initrd    FW_CFG_INITRD_ADDR, _SIZE and _DATA
 * @param cmdline   FW_CFG_CMDLINE_ADDR, _SIZE and _DATA
 * @param setup     FW_CFG_SETUP_ADDR, _SIZE and _DATA
 * @param entry     FW_CFG_KERNEL_ENTRY (0 when QEMU sets none)
 * @param optionRom the option ROM QEMU boots the kernel with ({@code genroms/NAME}), or {@code null} for none
 */
public record FwCfgKernel(Blob kernel, Blob initrd, Blob cmdline, Blob setup, long entry, String optionRom) {
    /** No kernel: every item zero, no option ROM (QEMU without {@code -kernel}). */
    public static final FwCfgKernel NONE = new FwCfgKernel(Blob.NONE, Blob.NONE, Blob.NONE, Blob.NONE, 0, null);

    /**
     * One address/size/data triple. The size is its own item and need not be the data's length (PVH reports the
     * kernel's size with no data); fw_cfg carries the low 32 bits of address and size, as QEMU's 32-bit items do.
     */
    public record Blob(long addr, long size, byte[] data) {
        /** An item QEMU does not fill. */
        public static final Blob NONE = new Blob(0, 0, new byte[0]);

        /** {@code data} at {@code addr}, its size its length. */
        public static Blob of(long addr, byte[] data) {
            return new Blob(addr, data.length, data);
        }

        /** A C string (UTF-8, NUL-terminated) at {@code addr}, as QEMU's {@code fw_cfg_add_string} stores it. */
        public static Blob string(long addr, String s) {
            byte[] u = s.getBytes(StandardCharsets.UTF_8);
            return of(addr, Arrays.copyOf(u, u.length + 1));
        }
    }
}
