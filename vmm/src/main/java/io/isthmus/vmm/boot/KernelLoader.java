package io.isthmus.vmm.boot;

import java.io.PrintStream;

/**
 * Picks the loader for a {@code -kernel} image the way QEMU's {@code x86_load_linux} does: a Linux setup header
 * ("HdrS" at 0x202) means the Linux boot protocol; otherwise a Multiboot header in the first 8 KiB means
 * Multiboot (so a Multiboot ELF boots by Multiboot even when it also has a PVH note); otherwise an ELF file boots
 * by PVH (microvm enables it), and fails there without a PVH entry note; anything else is rejected with what was
 * looked for and where. Stateless; thread-safe.
 */
public final class KernelLoader {
    private KernelLoader() {}

    /** Loads {@code image} and returns the entry state. */
    public static BootState load(byte[] image, String path, String append, String initrd, MemoryMap map,
                                 GuestRam ram, PrintStream warnings) {
        if (LinuxLoader.isBzImage(image)) {
            return LinuxLoader.load(image, path, append == null ? "" : append, initrd, map, ram);
        }
        if (MultibootLoader.findHeader(image) >= 0) {
            return MultibootLoader.load(image, path, append == null ? "" : append, initrd, map, ram, warnings);
        }
        if (Elf.isElf(image)) {
            return PvhLoader.load(image, path, append == null ? "" : append, initrd, map, ram);
        }
        throw new ImageFormatException("invalid kernel header: " + path + " has neither a Linux setup header"
                + " (\"HdrS\" at offset 0x202) nor a Multiboot header (magic 0x1BADB002 with a valid checksum,"
                + " 4-byte aligned in the first 8 KiB) nor the ELF magic (PVH)");
    }
}
