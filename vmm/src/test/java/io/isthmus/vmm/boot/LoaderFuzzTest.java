package io.isthmus.vmm.boot;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.isthmus.vmm.FuzzCoverage;
import java.io.PrintStream;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The {@code -kernel} loaders on attacker-controlled images: {@link KernelLoader} (which picks bzImage, Multiboot or
 * PVH), and each loader on its own so that a header which would pick another still reaches it. What may come out is
 * a {@link BootState} or an {@link ImageFormatException}; every write must lie inside guest RAM and be checked with
 * {@link GuestRam#isRam} first (the RAM here throws an {@link AssertionError}, a finding, otherwise). Corpus:
 * {@code src/test/resources/io/isthmus/vmm/boot/LoaderFuzzTestInputs/<method>/}, seeded with the test guests.
 */
@ExtendWith(FuzzCoverage.class)
class LoaderFuzzTest {
    /**
     * 4 MiB of RAM, as {@code -m 4M}: the loaders' writes must stay inside it. (Small, so that an image asking for
     * all of it, which the Multiboot loader builds on the heap, costs little per execution.)
     */
    static final long RAM = 4 << 20;
    static final MemoryMap MAP = MemoryMap.forRam(RAM);
    static final PrintStream NOWHERE = new PrintStream(PrintStream.nullOutputStream());
    static final String APPEND = "console=ttyS0 vga=0x317 root=/dev/vda";

    /**
     * Guest RAM that remembers nothing (a fuzz run makes millions of images; storing them would only cost time) but
     * checks every write against the map: a write outside RAM, or of bytes the source array does not have, is a
     * finding.
     */
    static final class CheckedRam implements GuestRam {
        long written;

        @Override
        public void write(long gpa, byte[] src, int off, int len) {
            if (off < 0 || len < 0 || off > src.length - len) {
                throw new AssertionError("write of " + len + " bytes from offset " + off + " of a " + src.length
                        + "-byte array");
            }
            if (gpa < 0 || gpa + len > MAP.lowRam() || gpa + len < gpa) {
                throw new AssertionError("write outside guest RAM: 0x" + Long.toHexString(len) + " bytes at 0x"
                        + Long.toHexString(gpa));
            }
            written += len;
        }

        @Override
        public boolean isRam(long gpa, long len) {
            return gpa >= 0 && len >= 0 && gpa <= MAP.lowRam() && len <= MAP.lowRam() - gpa;
        }
    }

    private static void expectOnlyFormatErrors(Runnable load) {
        try {
            load.run();
        } catch (ImageFormatException expected) {
            if (expected.getMessage() == null || expected.getMessage().isBlank()) {
                throw new AssertionError("an ImageFormatException without a message", expected);
            }
        }
    }

    @FuzzTest
    void kernelLoader(byte[] image) {
        expectOnlyFormatErrors(() -> KernelLoader.load(image, "fuzz.img", APPEND, null, MAP, new CheckedRam(), NOWHERE));
    }

    @FuzzTest
    void multiboot(byte[] image) {
        expectOnlyFormatErrors(() -> MultibootLoader.load(image, "fuzz.img", APPEND, null, MAP, new CheckedRam(),
                NOWHERE));
    }

    @FuzzTest
    void pvh(byte[] image) {
        expectOnlyFormatErrors(() -> PvhLoader.load(image, "fuzz.img", APPEND, null, MAP, new CheckedRam()));
    }

    @FuzzTest
    void bzImage(byte[] image) {
        if (LinuxLoader.isBzImage(image)) {
            expectOnlyFormatErrors(() -> LinuxLoader.load(image, "fuzz.img", APPEND, null, MAP, new CheckedRam()));
        }
    }

    @FuzzTest
    void elf(byte[] image) {
        expectOnlyFormatErrors(() -> {
            Elf elf = Elf.parse(image, "fuzz.img");
            if (elf.high() - elf.low() <= RAM) {
                elf.image(image);
            }
        });
    }
}
