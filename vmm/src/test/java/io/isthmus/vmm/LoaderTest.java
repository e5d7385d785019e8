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

    @Test
    void theVmmPrintsOneLineAndExits1ForAMalformedKernel() throws Exception {
        Path bad = Files.createDirectories(TestGuests.OUT).resolve("bad-aout.bin");
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
}
