package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.isthmus.vmm.boot.BootState;
import io.isthmus.vmm.boot.FwCfgKernel;
import io.isthmus.vmm.boot.KernelLoader;
import io.isthmus.vmm.boot.MemoryMap;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * What each loader reports for fw_cfg: QEMU 7.2's kernel, initrd, command-line and setup items for that kind of
 * kernel. The addresses and sizes agree with what the loader put in RAM; the lab's FirmwareDifferentialTest reads
 * the same items under QEMU and this VMM and compares them.
 */
class FwCfgKernelTest {
    private static final MemoryMap MAP = MemoryMap.forRam(16 << 20);
    private static final PrintStream QUIET = new PrintStream(PrintStream.nullOutputStream());

    private static byte[] at(LoaderTest.ArrayRam ram, long addr, long size) {
        return Arrays.copyOfRange(ram.mem, (int) addr, (int) (addr + size));
    }

    @Test
    void multibootGivesQemusBufferAndTheInformationStructureWithoutTheFirmwaresFields() throws IOException {
        Path kernel = TestGuests.guest("firmware.elf");
        Path mod = TestGuests.scratch().resolve("fwcfg-module.bin");
        Files.write(mod, new byte[] {1, 2, 3});
        LoaderTest.ArrayRam ram = new LoaderTest.ArrayRam();
        BootState s = KernelLoader.load(Files.readAllBytes(kernel), kernel.toString(), "a b", mod + " arg", MAP, ram,
                QUIET);
        FwCfgKernel k = s.fwCfg();
        assertEquals(0x100000, k.kernel().addr());
        assertEquals(0, k.kernel().size() % 4096, "page-aligned, as QEMU's mb_buf_size");
        assertEquals(k.kernel().size(), k.kernel().data().length);
        assertArrayEquals(at(ram, 0x100000, k.kernel().size()), k.kernel().data(), "what the option ROM would copy");
        assertEquals(0x9500, k.initrd().addr());
        assertEquals(88, k.initrd().size());
        byte[] mbi = at(ram, 0x9500, 88);
        ByteBuffer.wrap(mbi).order(ByteOrder.LITTLE_ENDIAN).putInt(4, 0).putInt(8, 0).putInt(44, 0);
        assertArrayEquals(mbi, k.initrd().data(), "the MBI before the option ROM adds memory sizes and map length");
        assertEquals(s.rip(), k.entry());
        assertSame(FwCfgKernel.Blob.NONE, k.cmdline());
        assertSame(FwCfgKernel.Blob.NONE, k.setup());
        assertEquals("multiboot_dma.bin", k.optionRom());
    }

    @Test
    void linuxGivesEachPartAtItsBootProtocolAddress() throws IOException {
        Path kernel = TestGuests.guest("bzimage.bin");
        Path rd = TestGuests.scratch().resolve("fwcfg-initrd.bin");
        Files.write(rd, new byte[] {9, 8, 7, 6, 5});
        byte[] image = Files.readAllBytes(kernel);
        LoaderTest.ArrayRam ram = new LoaderTest.ArrayRam();
        BootState s = KernelLoader.load(image, kernel.toString(), "console=ttyS0", rd.toString(), MAP, ram, QUIET);
        FwCfgKernel k = s.fwCfg();
        int setupSize = ((image[0x1f1] & 0xff) + 1) * 512;
        assertEquals(0x10000, k.setup().addr());
        assertEquals(setupSize, k.setup().size());
        assertArrayEquals(at(ram, 0x10000, setupSize), k.setup().data(), "the setup code with its patched header");
        assertEquals(0xb0, k.setup().data()[0x210] & 0xff, "type_of_loader");
        assertEquals(0x100000, k.kernel().addr());
        assertArrayEquals(Arrays.copyOfRange(image, setupSize, image.length), k.kernel().data());
        assertEquals(image.length - setupSize, k.kernel().size());
        assertEquals(0x20000, k.cmdline().addr());
        assertEquals("console=ttyS0\0", new String(k.cmdline().data(), StandardCharsets.US_ASCII));
        assertEquals(14, k.cmdline().size());
        ByteBuffer h = ByteBuffer.wrap(k.setup().data()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(h.getInt(0x218), k.initrd().addr(), "ramdisk_image");
        assertEquals(5, k.initrd().size());
        assertArrayEquals(new byte[] {9, 8, 7, 6, 5}, k.initrd().data());
        assertEquals(0, k.entry(), "QEMU sets no entry for Linux");
        assertEquals("linuxboot_dma.bin", k.optionRom());
    }

    @Test
    void linuxWithoutAnInitrdOrCommandLine() throws IOException {
        byte[] image = Files.readAllBytes(TestGuests.guest("bzimage.bin"));
        FwCfgKernel k = KernelLoader.load(image, "bz", null, null, MAP, new LoaderTest.ArrayRam(), QUIET).fwCfg();
        assertSame(FwCfgKernel.Blob.NONE, k.initrd());
        assertEquals(1, k.cmdline().size(), "an empty command line is its NUL");
        assertArrayEquals(new byte[1], k.cmdline().data());
    }

    @Test
    void pvhGivesTheKernelsExtentTheEntryAndTheFilesHeadAsSetup() throws IOException {
        Path rd = TestGuests.scratch().resolve("fwcfg-pvh-initrd.bin");
        Files.write(rd, new byte[] {4, 5, 6});
        byte[] img = LoaderTest.pvhElf(false, 4, LoaderTest.pvhNote(0x100010), LoaderTest.TEXT);
        FwCfgKernel k = KernelLoader.load(img, "k.elf", "console=ttyS0", rd.toString(), MAP,
                new LoaderTest.ArrayRam(), QUIET).fwCfg();
        assertEquals(0x100000, k.kernel().addr());
        assertEquals(0x2000, k.kernel().size(), "p_memsz: the segments are ROM blobs, not fw_cfg data");
        assertEquals(0, k.kernel().data().length);
        assertEquals(0x100010, k.entry());
        assertEquals(0, k.cmdline().addr(), "QEMU sets no command-line address for PVH");
        assertEquals("console=ttyS0\0", new String(k.cmdline().data(), StandardCharsets.US_ASCII));
        assertEquals(0, k.setup().addr());
        assertEquals(8192, k.setup().size());
        assertArrayEquals(Arrays.copyOf(img, 8192), k.setup().data());
        assertEquals(((16 << 20) - 1 - 3) & ~4095L, k.initrd().addr());
        assertArrayEquals(new byte[] {4, 5, 6}, k.initrd().data());
        assertEquals("pvh.bin", k.optionRom());
    }
}
