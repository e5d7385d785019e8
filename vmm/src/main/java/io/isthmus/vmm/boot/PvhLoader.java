package io.isthmus.vmm.boot;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Boots an ELF kernel (32- or 64-bit container) through its PVH entry note, the x86/HVM direct boot ABI, as
 * {@code qemu-system-x86_64 -M microvm} does: QEMU's {@code load_elfboot} (hw/i386/x86.c) loads the
 * {@code PT_LOAD} segments at their physical addresses and takes the entry from the first note of type
 * {@code XEN_ELFNOTE_PHYS32_ENTRY} (18) in a {@code PT_NOTE} segment; microvm's firmware (qboot,
 * {@code boot_pvh_from_fw_cfg}) then builds an {@code hvm_start_info} (version 1) and jumps to the entry in flat
 * 32-bit protected mode, paging off, with EAX = 0x2BADB002 and EBX = the start_info's address.
 *
 * <p>What the guest finds, matched against the real QEMU 7.2 with the {@code pvh.c} test guest:
 * <ul>
 * <li>start_info: magic 0x336EC578, version 1, flags 0; the command line ({@code -append}, "" when absent);
 *     the memory map: the firmware's E820 table ({@link MemoryMap#e820()}) plus its terminating all-zero entry,
 *     which qboot counts in {@code memmap_entries}; {@code rsdp_paddr} 0 (this VMM builds no ACPI tables).</li>
 * <li>{@code -initrd}: one module (the file's bytes, at QEMU's address: the top of RAM below 4 GiB minus one,
 *     less the size, rounded down to 4 KiB), with {@code cmdline_paddr} 0. An empty file gives no module, as
 *     in qboot, which tests the size.</li>
 * <li>Segments are written in ascending address order with their bss zeroed; segments without file bytes are
 *     not written (QEMU's ROM blobs skip them), and file-backed ranges that overlap are refused with QEMU's
 *     message.</li>
 * </ul>
 *
 * <p>The tables live in 0xd0000-0xeffff, which the E820 map reports as reserved (type 4), so a guest leaves
 * them alone as it leaves qboot's (which lie at other addresses there). Stateless; thread-safe.
 */
public final class PvhLoader {
    /** {@code XEN_ELFNOTE_PHYS32_ENTRY}: the note whose descriptor is the 32-bit physical entry point. */
    public static final int XEN_ELFNOTE_PHYS32_ENTRY = 18;
    /** {@code XEN_HVM_START_MAGIC_VALUE}. */
    public static final int START_MAGIC = 0x336ec578;
    /** What qboot leaves in EAX when it jumps to a PVH kernel. */
    public static final int ENTRY_EAX = 0x2badb002;
    /** Where this loader puts the start_info, the module list, the memory map and the command line. */
    public static final long START_INFO_ADDR = 0xd0000, MODLIST_ADDR = 0xd0040, MEMMAP_ADDR = 0xd0080,
            CMDLINE_ADDR = 0xd1000, TABLES_END = 0xf0000;
    /** The end of the firmware's area (qboot's BIOS at 0xf0000); kernel segments must stay clear of 0xd0000 to here. */
    private static final long FIRMWARE_END = 0x100000;
    /** The stack pointer qboot leaves at the PVH entry (its own stack); a guest that pushes first needs RAM there. */
    static final long ENTRY_ESP = 0x7b60;
    private static final int START_INFO_SIZE = 56, MEMMAP_ENTRY_SIZE = 24, MODLIST_ENTRY_SIZE = 32;
    /** e_flags bits QEMU's load_elfboot refuses (the Multiboot-style "has address" flags). */
    private static final int UNSUPPORTED_FLAGS = 0x00010004;

    private PvhLoader() {}

    /**
     * Loads {@code image} (already read from {@code path}; it starts with the ELF magic) with its initrd into
     * {@code ram} and returns the PVH entry state.
     *
     * @param cmdline the {@code -append} text ("" when absent)
     * @param initrd  the {@code -initrd} path, or {@code null}
     * @throws ImageFormatException with QEMU's message (and, where QEMU gives none, the field and offset at fault)
     */
    public static BootState load(byte[] image, String path, String cmdline, String initrd, MemoryMap map,
                                 GuestRam ram) {
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        // QEMU reads e_flags from the header before it parses anything else.
        boolean is64 = image.length > 4 && image[4] == 2;
        int flagsAt = is64 ? 48 : 36;
        int flags = image.length >= flagsAt + 4 ? b.getInt(flagsAt) : 0;
        if ((flags & UNSUPPORTED_FLAGS) != 0) {
            throw new ImageFormatException("elfboot unsupported flags = " + Integer.toHexString(flags));
        }
        Elf elf;
        try {
            elf = Elf.parse(image, path);
        } catch (ImageFormatException e) {
            throw new ImageFormatException("Error while loading elf kernel: " + e.getMessage());
        }
        if (elf.machine() != Elf.EM_386 && elf.machine() != Elf.EM_X86_64) {
            throw new ImageFormatException("Error while loading elf kernel: " + path + ": ELF header at offset"
                    + " 0x12: e_machine " + elf.machine() + " is neither EM_386 (3) nor EM_X86_64 (62)");
        }
        long note = findEntry(image, path, elf);
        if (note == 0) {
            throw new ImageFormatException("Error loading uncompressed kernel without PVH ELF Note");
        }
        long entry = note & 0xffffffffL;

        byte[] rd = initrd == null ? null : readInitrd(initrd);
        long initrdAddr = 0;
        if (rd != null) {
            // QEMU's PVH path: below_4g_mem_size - acpi_data_size (0 on microvm) - 1, and ">=" here.
            long initrdMax = map.lowRam() - 1;
            if (rd.length >= initrdMax) {
                throw new ImageFormatException("initrd is too large, cannot support.(max: " + initrdMax + ", need "
                        + rd.length + ")");
            }
            initrdAddr = (initrdMax - rd.length) & ~4095L;
        }

        // QEMU's ROM blobs: sorted by address (stable), only those with file bytes and a memory size; the
        // file-backed ranges must not overlap (checked when the machine is done, so after the errors above).
        List<Elf.Segment> blobs = new ArrayList<>();
        for (Elf.Segment s : elf.segments()) {
            if (s.fileSize() > 0 && s.memSize() != 0) {
                blobs.add(s);
            }
        }
        blobs.sort((x, y) -> Long.compareUnsigned(x.paddr(), y.paddr())); // QEMU's addresses are unsigned
        checkOverlap(blobs, path);

        for (Elf.Segment s : elf.segments()) {
            checkInRam(ram, s, path);
        }
        if (!ram.isRam(entry, 1)) {
            throw new ImageFormatException(path + ": the PVH ELF note's entry 0x" + Long.toHexString(entry)
                    + " is not in guest RAM (QEMU would start the guest there and it would fault)");
        }
        // Everything is checked before the first write, so a refused image leaves guest RAM untouched.
        byte[] cmd = cstring(cmdline);
        if (cmd.length > TABLES_END - CMDLINE_ADDR) {
            throw new ImageFormatException("PVH: the command line (" + cmd.length + " bytes with its NUL) does not"
                    + " fit the " + (TABLES_END - CMDLINE_ADDR) + " bytes this VMM sets aside for it");
        }
        if (!ram.isRam(START_INFO_ADDR, TABLES_END - START_INFO_ADDR)) {
            throw new ImageFormatException("PVH: guest RAM does not cover 0x" + Long.toHexString(START_INFO_ADDR)
                    + "-0x" + Long.toHexString(TABLES_END - 1) + ", where the start_info goes; give more memory with -m");
        }
        if (rd != null && rd.length > 0 && !ram.isRam(initrdAddr, rd.length)) {
            throw new ImageFormatException("PVH: the initrd (0x" + Integer.toHexString(rd.length) + " bytes at 0x"
                    + Long.toHexString(initrdAddr) + ") does not fit in guest RAM; give more memory with -m");
        }
        byte[] zeros = new byte[64 * 1024];
        for (Elf.Segment s : blobs) {
            ram.write(s.paddr(), image, (int) s.offset(), (int) s.fileSize());
            // The bss, zeroed in chunks: a large one need not be allocated on the Java heap.
            for (long at = s.paddr() + s.fileSize(), end = s.paddr() + s.memSize(); at < end; at += zeros.length) {
                ram.write(at, zeros, 0, (int) Math.min(zeros.length, end - at));
            }
        }

        // The tables, as qboot's boot_pvh_from_fw_cfg fills them.
        List<MemoryMap.E820Entry> e820 = map.e820();
        int entries = e820.size() + 1; // qboot's table ends with an all-zero entry, and counts it
        byte[] mm = new byte[entries * MEMMAP_ENTRY_SIZE];
        ByteBuffer m = ByteBuffer.wrap(mm).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < e820.size(); i++) {
            m.putLong(i * MEMMAP_ENTRY_SIZE, e820.get(i).base());
            m.putLong(i * MEMMAP_ENTRY_SIZE + 8, e820.get(i).length());
            m.putInt(i * MEMMAP_ENTRY_SIZE + 16, e820.get(i).type());
        }
        boolean module = rd != null && rd.length > 0;
        byte[] si = new byte[START_INFO_SIZE];
        ByteBuffer s = ByteBuffer.wrap(si).order(ByteOrder.LITTLE_ENDIAN);
        s.putInt(0, START_MAGIC);
        s.putInt(4, 1);
        s.putInt(8, 0);
        s.putInt(12, module ? 1 : 0);
        s.putLong(16, module ? MODLIST_ADDR : 0);
        s.putLong(24, CMDLINE_ADDR);
        s.putLong(32, 0); // rsdp_paddr: no ACPI tables here
        s.putLong(40, MEMMAP_ADDR);
        s.putInt(48, entries);
        ram.write(MEMMAP_ADDR, mm);
        ram.write(CMDLINE_ADDR, cmd);
        if (module) {
            ram.write(initrdAddr, rd);
            byte[] mod = new byte[MODLIST_ENTRY_SIZE];
            ByteBuffer.wrap(mod).order(ByteOrder.LITTLE_ENDIAN).putLong(0, initrdAddr).putLong(8, rd.length);
            ram.write(MODLIST_ADDR, mod);
        }
        ram.write(START_INFO_ADDR, si);
        // qboot happens to leave ECX = the entry point and ESI = the memory map's address; matched since a guest
        // can see them.
        return new BootState(BootState.Mode.PROTECTED_FLAT, entry, ENTRY_EAX & 0xffffffffL, START_INFO_ADDR, entry,
                0, MEMMAP_ADDR, ENTRY_ESP, 0, 0).withFwCfg(fwCfg(image, elf, entry, cmdline, rd, initrdAddr));
    }

    /**
     * QEMU's items for a PVH kernel: the kernel's extent (its segments are ROM blobs, so no data), the entry, the
     * command line without an address, the file's first 8 KiB as the "setup" (QEMU's header buffer; a shorter
     * file's rest is zeros here, whatever was on QEMU's stack there), and the initrd.
     */
    private static FwCfgKernel fwCfg(byte[] image, Elf elf, long entry, String cmdline, byte[] rd, long initrdAddr) {
        return new FwCfgKernel(new FwCfgKernel.Blob(elf.low(), elf.high() - elf.low(), new byte[0]),
                rd == null ? FwCfgKernel.Blob.NONE : FwCfgKernel.Blob.of(initrdAddr, rd),
                FwCfgKernel.Blob.string(0, cmdline), FwCfgKernel.Blob.of(0, java.util.Arrays.copyOf(image, 8192)),
                entry, "pvh.bin");
    }

    /**
     * The PVH note's descriptor (64 bits, entry in the low 32), 0 when there is none. Like QEMU: the note is picked by type
     * alone (the owner name is not compared); names and descriptors are padded to the segment's {@code p_align}
     * (not to 4 as the ELF specification says, so a 64-bit p_align of 8 moves a "Xen" note's descriptor 4 bytes
     * on); a later segment's note wins over an earlier one's. The descriptor is read as 8 bytes whatever
     * {@code n_descsz} says (QEMU reads a {@code size_t}); the result must be non-zero, and only its low 32 bits
     * reach the firmware ({@code FW_CFG_KERNEL_ENTRY}), so the caller truncates it.
     */
    static long findEntry(byte[] image, String path, Elf elf) {
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        long found = 0;
        for (Elf.NoteSegment n : elf.notes()) {
            String at = path + ": ELF program header " + n.index() + " (PT_NOTE) at offset 0x"
                    + Integer.toHexString(n.headerOffset());
            if (n.fileSize() == 0) {
                continue;
            }
            if (n.offset() < 0 || n.fileSize() < 0 || n.offset() > image.length
                    || n.fileSize() > image.length - n.offset()) {
                throw new ImageFormatException("Error while loading elf kernel: " + at + ": notes at 0x"
                        + Long.toHexString(n.offset()) + "+0x" + Long.toHexString(n.fileSize())
                        + " run past the end of the file (" + image.length + " bytes)");
            }
            long end = n.offset() + n.fileSize();
            long p = n.offset();
            while (p + 12 <= end) {
                long namesz = b.getInt((int) p) & 0xffffffffL, descsz = b.getInt((int) p + 4) & 0xffffffffL;
                int type = b.getInt((int) p + 8);
                if (n.align() <= 0 || n.align() > 0xffffffffL) {
                    // QEMU divides by p_align here (and dies of SIGFPE when it is 0).
                    throw new ImageFormatException("Error while loading elf kernel: " + at + ": p_align 0x"
                            + Long.toHexString(n.align()) + " cannot pad the note at offset 0x" + Long.toHexString(p));
                }
                long desc = p + 12 + alignUp(namesz, n.align());
                if (type == XEN_ELFNOTE_PHYS32_ENTRY) {
                    // QEMU reads the descriptor from the mapped file, even where padding to p_align has put it
                    // past the segment; only a descriptor past the end of the file is refused here.
                    if (desc < 0 || desc + 4 > image.length) {
                        throw new ImageFormatException("Error while loading elf kernel: " + at + ": the PVH entry"
                                + " note (type 18) at offset 0x" + Long.toHexString(p) + " has its descriptor at 0x"
                                + Long.toHexString(desc) + ", past the end of the file (" + image.length + " bytes)");
                    }
                    found = 0;
                    for (int i = 0; i < 8 && desc + i < image.length; i++) {
                        found |= (image[(int) desc + i] & 0xffL) << (8 * i);
                    }
                    break;
                }
                long next = desc + alignUp(descsz, n.align());
                if (next <= p || next < 0) {
                    break;
                }
                p = next;
            }
        }
        return found;
    }

    private static void checkOverlap(List<Elf.Segment> sorted, String path) {
        StringBuilder pairs = new StringBuilder();
        for (int i = 1; i < sorted.size(); i++) {
            Elf.Segment a = sorted.get(i - 1), c = sorted.get(i);
            if (Long.compareUnsigned(a.paddr() + a.fileSize(), c.paddr()) > 0) {
                pairs.append("\nThe following two regions overlap (in the memory address space):\n")
                        .append(region(path, a)).append('\n').append(region(path, c));
            }
        }
        if (!pairs.isEmpty()) {
            throw new ImageFormatException("Some ROM regions are overlapping\n"
                    + "These ROM regions might have been loaded by direct user request or by default.\n"
                    + "They could be BIOS/firmware images, a guest kernel, initrd or some other file loaded into"
                    + " guest memory.\n"
                    + "Check whether you intended to load all this guest code, and whether it has been built to"
                    + " load to the correct addresses.\n" + pairs);
        }
    }

    private static String region(String path, Elf.Segment s) {
        return String.format("  %s ELF program header segment %d (addresses 0x%016x - 0x%016x)", path, s.index(),
                s.paddr(), s.paddr() + s.fileSize());
    }

    /** Segments must lie in RAM and clear of the table area (QEMU would drop them, or let qboot overwrite them). */
    private static void checkInRam(GuestRam ram, Elf.Segment s, String path) {
        String at = path + ": ELF program header " + s.index() + " at offset 0x" + Integer.toHexString(s.headerOffset());
        if (s.memSize() == 0) {
            return; // QEMU loads nothing for it
        }
        if (s.paddr() < 0 || s.memSize() < 0 || !ram.isRam(s.paddr(), s.memSize())) {
            throw new ImageFormatException(at + ": segment 0x" + Long.toHexString(s.paddr()) + "+0x"
                    + Long.toHexString(s.memSize()) + " (p_paddr+p_memsz) does not fit in guest RAM; give more"
                    + " memory with -m or link the kernel lower");
        }
        if (s.paddr() < FIRMWARE_END && s.paddr() + s.memSize() > START_INFO_ADDR) {
            throw new ImageFormatException(at + ": segment 0x" + Long.toHexString(s.paddr()) + "+0x"
                    + Long.toHexString(s.memSize()) + " overlaps 0xd0000-0xfffff, where the firmware and its PVH"
                    + " tables live; link the kernel at 1 MiB or above");
        }
    }

    /** Reads the initrd with GLib's messages, which QEMU prints after "error reading initrd PATH: ". */
    private static byte[] readInitrd(String initrd) {
        Path p = Path.of(initrd);
        String why;
        try {
            if (Files.isDirectory(p)) {
                // GLib opens a directory fine and then fails to map it; this is its message, quotes and all.
                why = "Failed to map " + initrd + "' " + initrd + "': mmap() failed: No such device";
            } else {
                return Files.readAllBytes(p);
            }
        } catch (NoSuchFileException e) {
            why = "Failed to open file \u201c" + initrd + "\u201d: open() failed: No such file or directory";
        } catch (AccessDeniedException e) {
            why = "Failed to open file \u201c" + initrd + "\u201d: open() failed: Permission denied";
        } catch (IOException | RuntimeException e) {
            why = "Failed to open file \u201c" + initrd + "\u201d: " + e.getMessage();
        }
        throw new ImageFormatException("error reading initrd " + initrd + ": " + why);
    }

    private static long alignUp(long v, long align) {
        // QEMU_ALIGN_UP: round up to a multiple of align (which need not be a power of two).
        return (v + align - 1) / align * align;
    }

    private static byte[] cstring(String s) {
        byte[] u = s.getBytes(StandardCharsets.UTF_8);
        return java.util.Arrays.copyOf(u, u.length + 1);
    }
}
