package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each corpus guest runs under {@code qemu-system-x86_64 -M microvm -accel kvm} and under this VMM with the
 * same options: the guest's serial output and the exit status must be identical, byte for byte.
 */
@Tag("kvm")
class DifferentialTest {
    static Path elf, aout, mod1, mod2, modComma, probe, bzimage, irq16, reset16, pvh, pvh64, empty;

    @BeforeAll
    static void guests() throws IOException {
        elf = TestGuests.guest("multiboot.elf");
        aout = TestGuests.guest("multiboot-aout.bin");
        probe = TestGuests.guest("probe.elf");
        bzimage = TestGuests.guest("bzimage.bin");
        irq16 = TestGuests.guest("irq16.bin");
        reset16 = TestGuests.guest("reset16.bin");
        pvh = TestGuests.guest("pvh.elf");
        pvh64 = TestGuests.guest("pvh64.elf");
        empty = TestGuests.scratch().resolve("empty.bin");
        Files.write(empty, new byte[0]);
        mod1 = TestGuests.scratch().resolve("mod1.txt");
        mod2 = TestGuests.scratch().resolve("mod2.bin");
        modComma = TestGuests.scratch().resolve("mod,comma.txt");
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
                // A triple fault resets the machine: the LAPIC, PIC and PIT read back QEMU's reset state after it.
                Arguments.of("reset-restores-interrupt-controllers", List.of("-kernel", "@reset16")),
                Arguments.of("missing-module", List.of("-kernel", "@elf", "-initrd", "/nonexistent/module")),
                Arguments.of("pvh", List.of("-kernel", "@pvh")),
                Arguments.of("pvh-append", List.of("-kernel", "@pvh", "-append", "console=ttyS0 a=b,c  spaces ")),
                Arguments.of("pvh-initrd", List.of("-kernel", "@pvh", "-initrd", "@mod2", "-append", "root=/dev/ram0")),
                Arguments.of("pvh-initrd-empty", List.of("-kernel", "@pvh", "-initrd", "@empty")),
                Arguments.of("pvh-mem-16M", List.of("-kernel", "@pvh", "-m", "16", "-initrd", "@mod1")),
                Arguments.of("pvh-mem-5G", List.of("-kernel", "@pvh", "-m", "5G", "-initrd", "@mod1")),
                Arguments.of("pvh-elf64", List.of("-kernel", "@p64", "-append", "x", "-initrd", "@mod1")),
                Arguments.of("pvh-smp-2", List.of("-kernel", "@p64", "-smp", "2")),
                Arguments.of("missing-pvh-initrd", List.of("-kernel", "@pvh", "-initrd", "/nonexistent/initrd")));
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
                    .replace("@bz", bzimage.toString()).replace("@irq16", irq16.toString())
                    .replace("@reset16", reset16.toString()).replace("@pvh", pvh.toString())
                    .replace("@p64", pvh64.toString()).replace("@empty", empty.toString()));
        }
        TestGuests.Result q = TestGuests.qemu(args);
        TestGuests.Result i = TestGuests.isthmus(args);
        assertEquals(q.out(), i.out(), "serial output differs from QEMU's\nQEMU stderr: " + q.stderr()
                + "\nisthmus stderr: " + i.stderr());
        assertArrayEquals(q.stdout(), i.stdout());
        assertEquals(q.status(), i.status(), "exit status differs from QEMU's; isthmus stderr: " + i.stderr());
        if (!name.startsWith("missing")) {
            assertEquals(67, q.status(), q.stderr());
            assertTrue(q.out().contains("bye"), "the guest ran to its end under QEMU: " + q.out());
        }
    }

    /**
     * The test guest's ELF with one change, as {@code name}: "nonote" (PT_NOTE made PT_NULL), "entry0" (the PVH
     * note's entry 0), "flags" (e_flags 0x10004), "machine" (EM_ARM), "note-align8" (the PT_NOTE's p_align 8),
     * "truncated" (40 bytes), "phdr-past-end"
     * (the first PT_LOAD's p_offset 1 MiB), "overlap" (a second file-backed PT_LOAD over the first).
     */
    static Path brokenPvh(Path source, String name) throws IOException {
        byte[] img = Files.readAllBytes(source);
        ByteBuffer b = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);
        boolean is64 = img[4] == 2;
        int phoff = (int) (is64 ? b.getLong(32) : b.getInt(28)), phent = is64 ? 56 : 32;
        int phnum = b.getShort(is64 ? 56 : 44);
        int note = -1, load = -1, load2 = -1;
        for (int i = 0; i < phnum; i++) {
            int type = b.getInt(phoff + i * phent);
            if (type == 4) {
                note = phoff + i * phent;
            } else if (type == 1 && load < 0) {
                load = phoff + i * phent;
            } else if (type == 1) {
                load2 = phoff + i * phent;
            }
        }
        long noteOff = is64 ? b.getLong(note + 8) : b.getInt(note + 4);
        switch (name) {
            case "nonote" -> b.putInt(note, 0);
            case "entry0" -> {
                // the second note (the first is the guest-OS note): 12 + "isthmus\0" + 8, then 12 + "Xen\0"
                b.putInt((int) noteOff + 28 + 16, 0);
            }
            case "flags" -> b.putInt(is64 ? 48 : 36, 0x10004);
            case "machine" -> b.putShort(18, (short) 40);
            case "note-align8" -> {
                // QEMU pads the note name to p_align: its descriptor is then looked for 4 bytes too far on
                if (is64) {
                    b.putLong(note + 48, 8);
                } else {
                    b.putInt(note + 28, 8);
                }
            }
            case "truncated" -> img = java.util.Arrays.copyOf(img, 40);
            case "phdr-past-end" -> {
                if (is64) {
                    b.putLong(load + 8, 1 << 20);
                } else {
                    b.putInt(load + 4, 1 << 20);
                }
            }
            case "overlap" -> {
                // the bss PT_LOAD gets file bytes and moves onto the text
                if (is64) {
                    b.putLong(load2 + 8, 0x1000).putLong(load2 + 24, 0x100080).putLong(load2 + 32, 0x100);
                } else {
                    b.putInt(load2 + 4, 0x1000).putInt(load2 + 12, 0x100080).putInt(load2 + 16, 0x100);
                }
            }
            default -> throw new IllegalArgumentException(name);
        }
        Path out = TestGuests.scratch().resolve("pvh-" + name + (is64 ? "64" : "") + ".elf");
        Files.write(out, img);
        return out;
    }

    static Stream<Arguments> brokenCases() {
        List<Arguments> out = new ArrayList<>();
        for (String c : List.of("nonote", "entry0", "flags", "machine", "note-align8", "truncated", "phdr-past-end",
                "overlap")) {
            out.add(Arguments.of(c, false));
            out.add(Arguments.of(c, true));
        }
        return out.stream();
    }

    /**
     * Malformed PVH kernels: QEMU and this VMM both exit 1 before the guest runs, with QEMU's message (this VMM
     * may add ": " and the header and offset at fault to QEMU's one-line messages).
     */
    @ParameterizedTest(name = "{0} elf64={1}")
    @MethodSource("brokenCases")
    void malformedPvhKernelsFailAsInQemu(String name, boolean is64) throws IOException {
        Path k = brokenPvh(is64 ? pvh64 : pvh, name);
        List<String> args = new ArrayList<>(List.of("-serial", "stdio", "-kernel", k.toString()));
        args.addAll(TestGuests.EXIT_DEVICE);
        TestGuests.Result q = TestGuests.qemu(args);
        TestGuests.Result i = TestGuests.isthmus(args);
        assertEquals(1, q.status(), "QEMU refuses it: " + q.stderr());
        assertEquals(1, i.status(), i.stderr());
        assertEquals("", i.out());
        String qe = CommandLineDifferentialTest.normalize(q.stderr()).strip();
        String ie = CommandLineDifferentialTest.normalize(i.stderr()).strip();
        assertTrue(ie.equals(qe) || !qe.contains("\n") && ie.startsWith(qe + ": "),
                "QEMU said:\n" + qe + "\nthis VMM said:\n" + ie);
        assertTrue(!i.stderr().contains("Exception") && !i.stderr().contains("\tat "), i.stderr());
    }

    @org.junit.jupiter.api.Test
    void pvhInitrdTooLargeFailsAsInQemu() throws IOException {
        Path big = TestGuests.scratch().resolve("big-initrd.bin");
        Files.write(big, new byte[16 << 20]);
        List<String> args = List.of("-serial", "stdio", "-m", "16", "-kernel", pvh.toString(), "-initrd", big.toString());
        TestGuests.Result q = TestGuests.qemu(args);
        TestGuests.Result i = TestGuests.isthmus(args);
        assertEquals(1, q.status(), q.stderr());
        assertEquals(1, i.status(), i.stderr());
        assertEquals(CommandLineDifferentialTest.normalize(q.stderr()).strip(),
                CommandLineDifferentialTest.normalize(i.stderr()).strip());
    }
}
