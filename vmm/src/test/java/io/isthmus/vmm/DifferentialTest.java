package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each corpus guest runs under {@code qemu-system-x86_64 -M microvm -accel kvm} and under this VMM with the
 * same options: the guest's serial output and the exit status must be identical, byte for byte.
 */
class DifferentialTest {
    static Path elf, aout, mod1, mod2, modComma, probe, bzimage, irq16;

    @BeforeAll
    static void build() throws IOException {
        elf = TestGuests.build("multiboot.c", "multiboot.elf", "multiboot.ld");
        Path aoutElf = TestGuests.build("multiboot.c", "multiboot-aout.elf", "multiboot.ld", "-DAOUT");
        aout = TestGuests.flat(aoutElf, "multiboot-aout.bin");
        probe = TestGuests.build("probe.c", "probe.elf", "multiboot.ld");
        bzimage = TestGuests.bzImage();
        irq16 = TestGuests.bzImage("irq16");
        mod1 = TestGuests.OUT.resolve("mod1.txt");
        mod2 = TestGuests.OUT.resolve("mod2.bin");
        modComma = TestGuests.OUT.resolve("mod,comma.txt");
        Files.writeString(mod1, "first module: hello");
        Files.write(mod2, new byte[] {0, 1, 2, (byte) 0xff, 'x'});
        Files.writeString(modComma, "a module whose name has a comma");
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of("elf", List.of("-kernel", "@elf")),
                Arguments.of("aout", List.of("-kernel", "@aout")),
                Arguments.of("append", List.of("-kernel", "@elf", "-append", "console=ttyS0 a=b,c  spaces ")),
                Arguments.of("modules", List.of("-kernel", "@elf", "-initrd", "@mod1 arg1 arg2,@mod2")),
                Arguments.of("module-comma-escape", List.of("-kernel", "@aout", "-initrd", "@modcomma x,,y,@mod1")),
                Arguments.of("mem-16M", List.of("-kernel", "@elf", "-m", "16")),
                Arguments.of("mem-size=1G", List.of("-kernel", "@elf", "-m", "size=1G")),
                Arguments.of("mem-5G", List.of("-kernel", "@aout", "-m", "5G")),
                Arguments.of("smp-2", List.of("-kernel", "@elf", "-smp", "2")),
                Arguments.of("name-noreboot", List.of("-kernel", "@elf", "-name", "guest1", "-no-reboot")),
                Arguments.of("two-dashes", List.of("--kernel", "@elf", "--m", "64")),
                Arguments.of("probe", List.of("-kernel", "@probe")),
                Arguments.of("bzimage", List.of("-kernel", "@bz")),
                Arguments.of("bzimage-cmdline-initrd", List.of("-kernel", "@bz", "-append",
                        "console=ttyS0 root=/dev/vda vga=ext", "-initrd", "@mod1")),
                Arguments.of("bzimage-5G-initrd", List.of("-kernel", "@bz", "-m", "5G", "-initrd", "@mod2",
                        "-append", "x,vga=0x317")),
                // The PIC, PIT and UART interrupts taken in real mode (see irq16.S): the split irqchip's devices.
                Arguments.of("interrupts-pic-pit-uart", List.of("-kernel", "@irq16")),
                Arguments.of("interrupts-smp-2", List.of("-kernel", "@irq16", "-smp", "2")),
                Arguments.of("missing-module", List.of("-kernel", "@elf", "-initrd", "/nonexistent/module")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void sameSerialOutputAndExitStatus(String name, List<String> template) {
        List<String> args = new ArrayList<>(List.of("-serial", "stdio"));
        args.addAll(TestGuests.EXIT_DEVICE);
        for (String a : template) {
            args.add(a.replace("@elf", elf.toString()).replace("@aout", aout.toString())
                    .replace("@mod1", mod1.toString()).replace("@mod2", mod2.toString())
                    .replace("@modcomma", modComma.toString().replace(",", ",,")).replace("@probe", probe.toString())
                    .replace("@bz", bzimage.toString()).replace("@irq16", irq16.toString()));
        }
        TestGuests.Result q = TestGuests.qemu(args);
        TestGuests.Result i = TestGuests.isthmus(args);
        assertEquals(q.out(), i.out(), "serial output differs from QEMU's\nisthmus stderr: " + i.stderr());
        assertArrayEquals(q.stdout(), i.stdout());
        assertEquals(q.status(), i.status(), "exit status differs from QEMU's; isthmus stderr: " + i.stderr());
        if (!name.startsWith("missing")) {
            assertEquals(67, q.status(), q.stderr());
            assertTrue(q.out().contains("bye"), "the guest ran to its end under QEMU: " + q.out());
        }
    }
}
