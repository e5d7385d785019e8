package io.isthmus.vmm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The parts of an ELF executable a loader needs: class, machine, flags, entry point, loadable segments (each
 * checked against the file's size so that a malformed image fails with the header and offset at fault) and
 * note segments (not checked here: only the PVH loader reads them, and QEMU's Multiboot path ignores them).
 * Immutable; thread-safe.
 *
 * @param flags {@code e_flags}
 * @param notes the {@code PT_NOTE} program headers, in file order
 */
public record Elf(int elfClass, int machine, int flags, long entry, List<Segment> segments, List<NoteSegment> notes) {
    public static final int EM_386 = 3, EM_X86_64 = 62;
    private static final int PT_LOAD = 1, PT_NOTE = 4;

    /**
     * A {@code PT_LOAD} program header.
     *
     * @param index its position in the program header table (QEMU names segments by it)
     * @param headerOffset the file offset of the program header itself, for messages
     */
    public record Segment(int index, int headerOffset, long offset, long paddr, long vaddr, long fileSize,
                          long memSize) {}

    /**
     * A {@code PT_NOTE} program header: where its notes lie in the file ({@code offset}, {@code fileSize}, not
     * checked against the file) and its {@code p_align}, which QEMU uses to pad note names and descriptors.
     */
    public record NoteSegment(int index, int headerOffset, long offset, long fileSize, long align) {}

    /** Whether {@code image} starts with the ELF magic. */
    public static boolean isElf(byte[] image) {
        return image.length >= 4 && image[0] == 0x7f && image[1] == 'E' && image[2] == 'L' && image[3] == 'F';
    }

    /** The ELF header's {@code e_machine} (valid for both classes), or -1 when too short. */
    public static int machineOf(byte[] image) {
        return image.length < 20 ? -1 : (image[18] & 0xff) | (image[19] & 0xff) << 8;
    }

    /** Parses {@code image} ({@code name} for messages). */
    public static Elf parse(byte[] image, String name) {
        if (!isElf(image)) {
            throw new ImageFormatException(name + ": not an ELF file (no \\x7fELF magic at offset 0x0)");
        }
        if (image.length < 52) {
            throw new ImageFormatException(name + ": ELF header truncated (file is " + image.length + " bytes)");
        }
        int cls = image[4];
        if (image[5] != 1) {
            throw new ImageFormatException(name + ": ELF header at offset 0x5: EI_DATA " + image[5]
                    + " is not little-endian (1)");
        }
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        boolean is64 = cls == 2;
        if (cls != 1 && cls != 2) {
            throw new ImageFormatException(name + ": ELF header at offset 0x4: EI_CLASS " + cls + " is neither"
                    + " 32-bit (1) nor 64-bit (2)");
        }
        if (is64 && image.length < 64) {
            throw new ImageFormatException(name + ": ELF64 header truncated (file is " + image.length + " bytes)");
        }
        int machine = b.getShort(18) & 0xffff;
        long entry = is64 ? b.getLong(24) : b.getInt(24) & 0xffffffffL;
        long phoff = is64 ? b.getLong(32) : b.getInt(28) & 0xffffffffL;
        int phentsize = b.getShort(is64 ? 54 : 42) & 0xffff;
        int phnum = b.getShort(is64 ? 56 : 44) & 0xffff;
        int minEnt = is64 ? 56 : 32;
        if (phnum == 0) {
            throw new ImageFormatException(name + ": ELF header: e_phnum is 0, no program headers to load");
        }
        if (phentsize < minEnt) {
            throw new ImageFormatException(name + ": ELF header at offset 0x" + (is64 ? "36" : "2a")
                    + ": e_phentsize " + phentsize + " is smaller than " + minEnt);
        }
        if (phoff < 0 || phoff > image.length || (long) phnum * phentsize > image.length - phoff) {
            throw new ImageFormatException(name + ": ELF program headers at offset 0x" + Long.toHexString(phoff)
                    + " (" + phnum + " x " + phentsize + " bytes) run past the end of the file ("
                    + image.length + " bytes)");
        }
        int flags = b.getInt(is64 ? 48 : 36);
        List<Segment> segs = new ArrayList<>();
        List<NoteSegment> notes = new ArrayList<>();
        for (int i = 0; i < phnum; i++) {
            int p = (int) (phoff + (long) i * phentsize);
            int type = b.getInt(p);
            if (type == PT_NOTE) {
                notes.add(is64
                        ? new NoteSegment(i, p, b.getLong(p + 8), b.getLong(p + 32), b.getLong(p + 48))
                        : new NoteSegment(i, p, b.getInt(p + 4) & 0xffffffffL, b.getInt(p + 16) & 0xffffffffL,
                                b.getInt(p + 28) & 0xffffffffL));
                continue;
            }
            if (type != PT_LOAD) {
                continue;
            }
            Segment s = is64
                    ? new Segment(i, p, b.getLong(p + 8), b.getLong(p + 24), b.getLong(p + 16), b.getLong(p + 32),
                            b.getLong(p + 40))
                    : new Segment(i, p, b.getInt(p + 4) & 0xffffffffL, b.getInt(p + 12) & 0xffffffffL,
                            b.getInt(p + 8) & 0xffffffffL, b.getInt(p + 16) & 0xffffffffL,
                            b.getInt(p + 20) & 0xffffffffL);
            // Compared without adding, so that 64-bit fields near 2^63 cannot wrap past the check.
            if (s.offset() < 0 || s.fileSize() < 0 || s.offset() > image.length
                    || s.fileSize() > image.length - s.offset()) {
                throw new ImageFormatException(name + ": ELF program header " + i + " at offset 0x"
                        + Integer.toHexString(p) + ": segment bytes 0x" + Long.toHexString(s.offset()) + "+0x"
                        + Long.toHexString(s.fileSize()) + " run past the end of the file (" + image.length
                        + " bytes)");
            }
            if (s.memSize() < s.fileSize()) {
                throw new ImageFormatException(name + ": ELF program header " + i + " at offset 0x"
                        + Integer.toHexString(p) + ": p_memsz 0x" + Long.toHexString(s.memSize())
                        + " is smaller than p_filesz 0x" + Long.toHexString(s.fileSize()));
            }
            segs.add(s);
        }
        if (segs.isEmpty()) {
            throw new ImageFormatException(name + ": ELF file has no PT_LOAD program header");
        }
        return new Elf(cls, machine, flags, entry, List.copyOf(segs), List.copyOf(notes));
    }

    /** The lowest physical address loaded. */
    public long low() {
        return segments.stream().mapToLong(Segment::paddr).min().orElseThrow();
    }

    /** One past the highest physical address loaded (including bss). */
    public long high() {
        return segments.stream().mapToLong(s -> s.paddr() + s.memSize()).max().orElseThrow();
    }

    /**
     * The bytes from {@link #low()} to {@link #high()}; throws when a segment's end wraps past 2^64 or the span is
     * negative (64-bit fields can hold anything), so that no caller sizes memory from a wrapped value.
     */
    public long span() {
        for (Segment s : segments) {
            if (s.paddr() < 0 || s.memSize() < 0 || s.paddr() + s.memSize() < 0) {
                throw new ImageFormatException("ELF program header " + s.index() + " at offset 0x"
                        + Integer.toHexString(s.headerOffset()) + ": segment 0x" + Long.toHexString(s.memSize())
                        + " bytes at physical address 0x" + Long.toHexString(s.paddr()) + " ends past 2^63");
            }
        }
        return high() - low();
    }

    /** The memory image of {@code [low(), high())}: segments at their physical offsets, zeros elsewhere. */
    public byte[] image(byte[] file) {
        long low = low(), size = span();
        if (size > Integer.MAX_VALUE - 16) {
            throw new ImageFormatException("ELF image spans 0x" + Long.toHexString(size) + " bytes, too large");
        }
        byte[] out = new byte[(int) size];
        for (Segment s : segments) {
            System.arraycopy(file, (int) s.offset(), out, (int) (s.paddr() - low), (int) s.fileSize());
        }
        return out;
    }
}
