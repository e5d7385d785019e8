package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.vmm.boot.BootState;
import io.isthmus.vmm.boot.GuestRam;
import io.isthmus.vmm.boot.ImageFormatException;
import io.isthmus.vmm.boot.KernelLoader;
import io.isthmus.vmm.boot.MemoryMap;
import io.isthmus.vmm.config.QemuOpts;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Loaders on byte-array RAM: malformed images fail with the header and offset at fault (and the VMM prints one
 * line, no stack trace); QEMU's option-list syntax.
 */
class LoaderTest {
    /** 16 MiB of guest RAM in a byte array: the loaders' writes land here. */
    static final class ArrayRam implements GuestRam {
        final byte[] mem = new byte[16 << 20];

        @Override
        public void write(long gpa, byte[] src, int off, int len) {
            System.arraycopy(src, off, mem, (int) gpa, len);
        }

        @Override
        public boolean isRam(long gpa, long len) {
            return gpa >= 0 && gpa + len <= mem.length;
        }
    }

    static BootState load(byte[] image) {
        return KernelLoader.load(image, "k.bin", null, null, MemoryMap.forRam(16 << 20), new ArrayRam(),
                new PrintStream(PrintStream.nullOutputStream()));
    }

    static byte[] multibootHeader(int flags, int... addrFields) {
        ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(64, 0x1BADB002).putInt(68, flags).putInt(72, -(0x1BADB002 + flags));
        for (int i = 0; i < addrFields.length; i++) {
            b.putInt(76 + 4 * i, addrFields[i]);
        }
        return b.array();
    }

    @Test
    void noKnownHeaderIsRejectedSayingWhatWasLookedFor() {
        ImageFormatException e = assertThrows(ImageFormatException.class, () -> load(new byte[8192]));
        assertTrue(e.getMessage().contains("offset 0x202") && e.getMessage().contains("first 8 KiB"), e.getMessage());
    }

    @Test
    void multibootWithoutAddressFieldsMustBeElf() {
        ImageFormatException e = assertThrows(ImageFormatException.class, () -> load(multibootHeader(3)));
        assertTrue(e.getMessage().contains("Error while loading elf kernel")
                && e.getMessage().contains("offset 0x40"), e.getMessage());
    }

    @Test
    void aoutKludgeWithBadAddressesNamesTheField() {
        // header_addr below load_addr
        ImageFormatException e = assertThrows(ImageFormatException.class,
                () -> load(multibootHeader(0x10003, 0x100000, 0x200000, 0, 0, 0x200000)));
        assertTrue(e.getMessage().startsWith("invalid load_addr address") && e.getMessage().contains("offset 0x40"),
                e.getMessage());
        // load_end beyond the file
        e = assertThrows(ImageFormatException.class,
                () -> load(multibootHeader(0x10003, 0x100040, 0x100000, 0x180000, 0, 0x100000)));
        assertTrue(e.getMessage().contains("load_end_addr") && e.getMessage().contains("file has 4096 bytes"),
                e.getMessage());
        // bss_end below load_end
        e = assertThrows(ImageFormatException.class,
                () -> load(multibootHeader(0x10003, 0x100040, 0x100000, 0x100800, 0x100400, 0x100000)));
        assertTrue(e.getMessage().contains("bss_end_addr"), e.getMessage());
    }

    @Test
    void elfWithProgramHeadersPastTheEndNamesThem() {
        byte[] img = multibootHeader(3);
        img[0] = 0x7f; img[1] = 'E'; img[2] = 'L'; img[3] = 'F'; img[4] = 1; img[5] = 1;
        ByteBuffer b = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(18, (short) 3).putInt(28, 0x10000).putShort(42, (short) 32).putShort(44, (short) 2);
        ImageFormatException e = assertThrows(ImageFormatException.class, () -> load(img));
        assertTrue(e.getMessage().contains("program headers at offset 0x10000"), e.getMessage());
    }

    @Test
    void bzImageWithTooManySetupSectorsNamesTheField() {
        byte[] img = new byte[1024];
        ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN).putInt(0x202, 0x53726448).putShort(0x206, (short) 0x20f);
        img[0x1f1] = 20;
        ImageFormatException e = assertThrows(ImageFormatException.class, () -> load(img));
        assertTrue(e.getMessage().contains("setup_sects 20 at offset 0x1f1"), e.getMessage());
    }

    /** A note: namesz, descsz, type, the name padded to 4, the descriptor padded to 4. */
    static byte[] note(String name, int type, byte[] desc) {
        int nameLen = name.length() + 1, nameSz = (nameLen + 3) & ~3, descSz = (desc.length + 3) & ~3;
        ByteBuffer b = ByteBuffer.allocate(12 + nameSz + descSz).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(nameLen).putInt(desc.length).putInt(type);
        b.put(name.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        b.position(12 + nameSz);
        b.put(desc);
        return b.array();
    }

    static byte[] pvhNote(int entry) {
        return note("Xen", 18, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(entry).array());
    }

    /**
     * A PVH ELF of 8 KiB: the header, then program headers: each {@code loads} row {offset, paddr, filesz, memsz}
     * is a PT_LOAD; then one PT_NOTE over {@code notes} (stored at file offset 0x800) with {@code noteAlign}.
     * The file holds 0x90 ("nop") from 0x1000 on.
     */
    static byte[] pvhElf(boolean is64, long noteAlign, byte[] notes, long[]... loads) {
        byte[] img = new byte[8192];
        java.util.Arrays.fill(img, 0x1000, img.length, (byte) 0x90);
        ByteBuffer b = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 0x464c457f);
        img[4] = (byte) (is64 ? 2 : 1);
        img[5] = 1;
        img[6] = 1;
        b.putShort(16, (short) 2).putShort(18, (short) (is64 ? 62 : 3)).putInt(20, 1);
        int phoff = is64 ? 64 : 52, phent = is64 ? 56 : 32, phnum = loads.length + (notes == null ? 0 : 1);
        if (is64) {
            b.putLong(24, 0x100000).putLong(32, phoff).putShort(52, (short) 64).putShort(54, (short) phent)
                    .putShort(56, (short) phnum);
        } else {
            b.putInt(24, 0x100000).putInt(28, phoff).putShort(40, (short) 52).putShort(42, (short) phent)
                    .putShort(44, (short) phnum);
        }
        int p = phoff;
        for (long[] l : loads) {
            phdr(b, is64, p, 1, l[0], l[1], l[2], l[3], 0x1000);
            p += phent;
        }
        if (notes != null) {
            phdr(b, is64, p, 4, 0x800, 0, notes.length, notes.length, noteAlign);
            System.arraycopy(notes, 0, img, 0x800, notes.length);
        }
        return img;
    }

    static void phdr(ByteBuffer b, boolean is64, int p, int type, long offset, long paddr, long filesz, long memsz,
                     long align) {
        b.putInt(p, type);
        if (is64) {
            b.putInt(p + 4, 5).putLong(p + 8, offset).putLong(p + 16, paddr).putLong(p + 24, paddr)
                    .putLong(p + 32, filesz).putLong(p + 40, memsz).putLong(p + 48, align);
        } else {
            b.putInt(p + 4, (int) offset).putInt(p + 8, (int) paddr).putInt(p + 12, (int) paddr)
                    .putInt(p + 16, (int) filesz).putInt(p + 20, (int) memsz).putInt(p + 24, 5)
                    .putInt(p + 28, (int) align);
        }
    }

    static final long[] TEXT = {0x1000, 0x100000, 0x100, 0x2000};

    static String pvhError(byte[] img) {
        return assertThrows(ImageFormatException.class, () -> load(img)).getMessage();
    }

    @Test
    void pvhElfLoadsSegmentsAndBuildsTheStartInfo() {
        for (boolean is64 : new boolean[] {false, true}) {
            byte[] notes = concat(note("GNU", 3, new byte[20]), pvhNote(0x100010));
            byte[] img = pvhElf(is64, 4, notes, TEXT);
            ArrayRam ram = new ArrayRam();
            java.util.Arrays.fill(ram.mem, 0x100100, 0x102000, (byte) 0xee); // bss must come back zeroed
            BootState s = KernelLoader.load(img, "k.elf", "console=ttyS0", null, MemoryMap.forRam(16 << 20), ram,
                    new PrintStream(PrintStream.nullOutputStream()));
            assertEquals(BootState.Mode.PROTECTED_FLAT, s.mode());
            assertEquals(0x100010, s.rip());
            assertEquals(0x2badb002L, s.rax());
            ByteBuffer m = ByteBuffer.wrap(ram.mem).order(ByteOrder.LITTLE_ENDIAN);
            int si = (int) s.rbx();
            assertEquals(0x336ec578, m.getInt(si));
            assertEquals(1, m.getInt(si + 4));
            assertEquals(0, m.getInt(si + 12), "no modules without -initrd");
            int cmd = (int) m.getLong(si + 24);
            assertEquals("console=ttyS0", new String(ram.mem, cmd, 13, java.nio.charset.StandardCharsets.US_ASCII));
            assertEquals(0, ram.mem[cmd + 13]);
            int entries = m.getInt(si + 48), map = (int) m.getLong(si + 40);
            assertEquals(MemoryMap.forRam(16 << 20).e820().size() + 1, entries);
            assertEquals(0, m.getLong(map + 24 * (entries - 1) + 8), "qboot's terminating entry is empty");
            assertEquals((byte) 0x90, ram.mem[0x1000ff]);
            assertEquals(0, ram.mem[0x100100]);
            assertEquals(0, ram.mem[0x101fff]);
        }
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void pvhInitrdBecomesModuleZeroAtQemusAddress() throws Exception {
        Path rd = TestGuests.scratch().resolve("pvh-loader-initrd.bin");
        Files.write(rd, new byte[] {1, 2, 3, 4, 5});
        ArrayRam ram = new ArrayRam();
        BootState s = KernelLoader.load(pvhElf(false, 4, pvhNote(0x100000), TEXT), "k.elf", null, rd.toString(),
                MemoryMap.forRam(16 << 20), ram, new PrintStream(PrintStream.nullOutputStream()));
        ByteBuffer m = ByteBuffer.wrap(ram.mem).order(ByteOrder.LITTLE_ENDIAN);
        int si = (int) s.rbx();
        assertEquals(1, m.getInt(si + 12));
        int mod = (int) m.getLong(si + 16);
        assertEquals(((16 << 20) - 1 - 5) & ~4095L, m.getLong(mod));
        assertEquals(5, m.getLong(mod + 8));
        assertEquals(0, m.getLong(mod + 16));
        assertEquals(5, ram.mem[(int) m.getLong(mod) + 4]);
    }

    @Test
    void multibootHeaderWinsOverAPvhNote() {
        // QEMU tries Multiboot before PVH: an ELF with both boots by Multiboot (EBX = the MBI at 0x9500).
        byte[] img = pvhElf(false, 4, pvhNote(0x100000), new long[] {0x1000, 0x100000, 0x1000, 0x1000});
        ByteBuffer b = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0x1000, 0x1BADB002).putInt(0x1004, 0).putInt(0x1008, -0x1BADB002);
        assertEquals(0x9500, load(img).rbx());
    }

    @Test
    void pvhElfWithoutTheNoteGetsQemusMessage() {
        assertEquals("Error loading uncompressed kernel without PVH ELF Note", pvhError(pvhElf(true, 8, null, TEXT)));
        // a note of another type only, and a PVH note whose entry is 0
        assertEquals("Error loading uncompressed kernel without PVH ELF Note",
                pvhError(pvhElf(false, 4, note("Xen", 6, new byte[4]), TEXT)));
        assertEquals("Error loading uncompressed kernel without PVH ELF Note",
                pvhError(pvhElf(false, 4, pvhNote(0), TEXT)));
    }

    @Test
    void pvhNotePaddingFollowsTheSegmentsAlignmentAsInQemu() {
        // p_align 8: QEMU looks for the descriptor 8 bytes after the 4-byte name, not 4.
        assertEquals("Error loading uncompressed kernel without PVH ELF Note",
                pvhError(pvhElf(true, 8, pvhNote(0x100000), TEXT)));
        byte[] padded = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putInt(4).putInt(4).putInt(18)
                .put(new byte[] {'X', 'e', 'n', 0, 0, 0, 0, 0}).putInt(0x100020).array();
        assertEquals(0x100020, load(pvhElf(true, 8, padded, TEXT)).rip());
    }

    @Test
    void pvhUnsupportedElfFlagsGetQemusMessage() {
        byte[] img = pvhElf(false, 4, pvhNote(0x100000), TEXT);
        ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN).putInt(36, 0x10000);
        assertEquals("elfboot unsupported flags = 10000", pvhError(img));
    }

    @Test
    void malformedPvhElfNamesTheHeaderAndOffset() {
        String e = pvhError(java.util.Arrays.copyOf(pvhElf(true, 8, pvhNote(0x100000), TEXT), 40));
        assertTrue(e.startsWith("Error while loading elf kernel: ") && e.contains("truncated"), e);
        // PT_LOAD bytes beyond the file
        e = pvhError(pvhElf(false, 4, pvhNote(0x100000), new long[] {0x1f00, 0x100000, 0x200, 0x200}));
        assertTrue(e.startsWith("Error while loading elf kernel: ") && e.contains("program header 0 at offset 0x34")
                && e.contains("past the end of the file"), e);
        // a 64-bit offset near 2^63 must not wrap past the check
        e = pvhError(pvhElf(true, 8, pvhNote(0x100000), new long[] {Long.MAX_VALUE - 8, 0x100000, 0x100, 0x100}));
        assertTrue(e.contains("program header 0 at offset 0x40"), e);
        // notes beyond the file
        byte[] img = pvhElf(false, 4, pvhNote(0x100000), TEXT);
        ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN).putInt(52 + 32 + 4, 0x10000);
        e = pvhError(img);
        assertTrue(e.contains("program header 1 (PT_NOTE) at offset 0x54") && e.contains("past the end"), e);
        // the PVH note's descriptor cut off by the end of the file
        byte[] cut = java.util.Arrays.copyOf(pvhNote(0x100000), 18);
        img = pvhElf(false, 4, cut, TEXT);
        System.arraycopy(cut, 0, img, img.length - cut.length, cut.length);
        ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN).putInt(52 + 32 + 4, img.length - cut.length);
        e = pvhError(img);
        assertTrue(e.contains("PVH entry note (type 18) at offset 0x1fee") && e.contains("past the end of the file"), e);
        // p_align 0: QEMU dies of SIGFPE; here it is a message
        e = pvhError(pvhElf(false, 0, pvhNote(0x100000), TEXT));
        assertTrue(e.contains("PT_NOTE") && e.contains("p_align 0x0"), e);
        // e_machine
        img = pvhElf(false, 4, pvhNote(0x100000), TEXT);
        img[18] = 40;
        e = pvhError(img);
        assertTrue(e.contains("e_machine 40") && e.contains("offset 0x12"), e);
    }

    @Test
    void pvhSegmentsAndEntryOutsideRamAreRefusedBeforeAnyWrite() {
        // QEMU drops such a segment (or enters nowhere) and the guest hangs; here the load fails, naming it.
        String e = pvhError(pvhElf(false, 4, pvhNote(0x100000), new long[] {0x1000, 0xfff000, 0x100, 0x2000}));
        assertTrue(e.contains("program header 0 at offset 0x34") && e.contains("does not fit in guest RAM"), e);
        e = pvhError(pvhElf(false, 4, pvhNote(0x40000000), TEXT));
        assertTrue(e.contains("entry 0x40000000 is not in guest RAM"), e);
        e = pvhError(pvhElf(false, 4, pvhNote(0x100000), new long[] {0x1000, 0xe0000, 0x100, 0x100}));
        assertTrue(e.contains("overlaps 0xd0000-0xfffff"), e);
        e = pvhError(pvhElf(false, 4, pvhNote(0x100000), new long[] {0x1000, 0x100000, 0x200, 0x100}));
        assertTrue(e.contains("p_memsz 0x100 is smaller than p_filesz 0x200"), e);
    }

    @Test
    void overlappingPvhSegmentsGetQemusMessage() {
        String e = pvhError(pvhElf(false, 4, pvhNote(0x100000), TEXT, new long[] {0x1000, 0x100080, 0x100, 0x100}));
        assertTrue(e.startsWith("Some ROM regions are overlapping\n"), e);
        assertTrue(e.endsWith("The following two regions overlap (in the memory address space):\n"
                + "  k.bin ELF program header segment 0 (addresses 0x0000000000100000 - 0x0000000000100100)\n"
                + "  k.bin ELF program header segment 1 (addresses 0x0000000000100080 - 0x0000000000100180)"), e);
        // bss (no file bytes) may overlap: QEMU writes nothing for it
        load(pvhElf(false, 4, pvhNote(0x100000), TEXT, new long[] {0, 0x100080, 0, 0x100}));
    }

    /** The kernel is read after KVM is opened, as in QEMU: the VMM needs a working KVM to reach this error. */
    @org.junit.jupiter.api.Tag("kvm")
    @Test
    void theVmmPrintsOneLineAndExits1ForAMalformedKernel() throws Exception {
        Path bad = TestGuests.scratch().resolve("bad-aout.bin");
        Files.write(bad, multibootHeader(0x10003, 0x100000, 0x200000, 0, 0, 0x200000));
        TestGuests.Result r = TestGuests.isthmus(List.of("-kernel", bad.toString()));
        assertEquals(1, r.status());
        assertEquals(1, r.stderr().lines().count(), r.stderr());
        assertTrue(r.stderr().startsWith("isthmus-vmm: invalid load_addr address"), r.stderr());
    }

    @Test
    void qemuOptsSyntax() {
        assertEquals("{size=64, slots=2}", QemuOpts.parse("64,slots=2", "size").toString());
        assertEquals("{path=/a,b, server=on, wait=off}", QemuOpts.parse("/a,,b,server,nowait", "path").toString());
        assertEquals(List.of("mod1 a,b", "mod2"), QemuOpts.splitValues("mod1 a,,b,mod2"));
        assertEquals(1536L << 20, QemuOpts.parseSize("1.5G", 1 << 20));
        assertEquals(64L << 20, QemuOpts.parseSize("64", 1 << 20));
        assertEquals(-1, QemuOpts.parseSize("12Q", 1 << 20));
    }

    /** Found by LoaderFuzzTest: a "HdrS" file shorter than the header fields read them past its end. */
    @Test
    void aBzImageShorterThanItsHeaderReadsZerosAsQemuDoes() {
        byte[] image = new byte[0x230];
        ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).putInt(0x202, 0x53726448).putShort(0x206, (short) 0x20c);
        ImageFormatException e = assertThrows(ImageFormatException.class, () -> load(image));
        assertTrue(e.getMessage().contains("setup_sects"), e.getMessage());
    }

    /** A Multiboot ELF asking for more memory than the guest has is refused before anything is allocated. */
    @Test
    void aMultibootElfLargerThanRamIsRefusedBeforeAllocating() {
        byte[] image = multibootHeader(3);
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, (byte) 0x7f).put(1, (byte) 'E').put(2, (byte) 'L').put(3, (byte) 'F').put(4, (byte) 1).put(5, (byte) 1);
        b.putShort(18, (short) 3).putInt(24, 0x100000).putInt(28, 0x100).putShort(42, (short) 32).putShort(44, (short) 1);
        // One PT_LOAD: 16 bytes of file at 1 MiB, 1.9 GiB in memory.
        b.putInt(0x100, 1).putInt(0x104, 0x200).putInt(0x10c, 0x100000).putInt(0x110, 16).putInt(0x114, 0x7a000000);
        ImageFormatException e = assertThrows(ImageFormatException.class, () -> load(image));
        assertTrue(e.getMessage().contains("does not fit in guest RAM"), e.getMessage());
    }
}
