package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The firmware test guest ({@code src/test/guests/firmware.c}) under {@code qemu-system-x86_64 -M microvm -accel kvm}
 * and under this VMM: what it reads from fw_cfg (the numbered items, the loader's kernel, initrd, command-line and
 * setup items, every file by name, size and contents, the DMA interface's cases, odd-sized port accesses) and the
 * ACPI tables must be the same byte for byte, for each kind of kernel (Multiboot, PVH, bzImage) and for a larger
 * machine ({@code -m 5G -smp 3}: nb_cpus 3, RAM above 4 GiB in the e820 map), and with a virtio device.
 *
 * <p>The guest skips the two files this VMM does not offer ({@code etc/fdt} and {@code genroms/*}, see README) by
 * name, and prints no selector numbers or file count, which their omission shifts.
 */
@Tag("kvm")
class FirmwareDifferentialTest {
    static Path multiboot, pvh, bzimage, initrd;

    @BeforeAll
    static void guests() throws IOException {
        multiboot = TestGuests.guest("firmware.elf");
        pvh = TestGuests.guest("firmware-pvh.elf");
        bzimage = TestGuests.guest("firmware-bz.bin");
        byte[] rd = new byte[4096];
        new Random(11).nextBytes(rd);
        initrd = TestGuests.scratch().resolve("firmware-initrd.bin");
        Files.write(initrd, rd);
    }

    static Stream<Arguments> cases() {
        List<String> big = List.of("-m", "5G", "-smp", "3", "-initrd", "@rd", "-append", "hello world");
        return Stream.of(
                Arguments.of("multiboot", List.of("-kernel", "@mb")),
                Arguments.of("multiboot-5G-smp3-initrd-append", concat(List.of("-kernel", "@mb"), big)),
                // A virtio transport in use: the DSDT, and with it etc/acpi/tables and etc/table-loader, grow.
                Arguments.of("multiboot-virtio-rng", List.of("-kernel", "@mb", "-device", "virtio-rng-device")),
                Arguments.of("pvh", List.of("-kernel", "@pvh")),
                Arguments.of("pvh-5G-smp3-initrd-append", concat(List.of("-kernel", "@pvh"), big)),
                Arguments.of("bzimage", List.of("-kernel", "@bz")),
                Arguments.of("bzimage-5G-smp3-initrd-append", concat(List.of("-kernel", "@bz"), big)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void sameFirmwareAsQemu(String name, List<String> template) {
        List<String> args = new ArrayList<>(List.of("-serial", "stdio"));
        args.addAll(TestGuests.EXIT_DEVICE);
        for (String a : template) {
            args.add(a.replace("@mb", multiboot.toString()).replace("@pvh", pvh.toString())
                    .replace("@bz", bzimage.toString()).replace("@rd", initrd.toString()));
        }
        TestGuests.Result q = TestGuests.qemu(args);
        TestGuests.Result i = TestGuests.isthmus(args);
        assertEquals(67, q.status(), "the guest ran to its end under QEMU: " + q.stderr() + "\n" + q.out());
        assertTrue(q.out().contains("bye"), q.out());
        assertTrue(q.out().contains("fw_cfg.file etc/table-loader size="), q.out());
        if (template.contains("-smp")) {
            // What a third-party kernel that reads the CPU count from fw_cfg finds (the guest writes CR LF).
            assertTrue(q.out().contains("fw_cfg.nb_cpus len=0x2\r\n 0300\r\n"), q.out());
        }
        assertSameLines(q.out(), i.out(), i.stderr());
        assertEquals(q.status(), i.status(), "exit status differs from QEMU's; isthmus stderr: " + i.stderr());
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    /** Byte for byte, reporting the first lines that differ (the whole outputs are a few hundred lines). */
    private static void assertSameLines(String qemu, String isthmus, String stderr) {
        if (qemu.equals(isthmus)) {
            return;
        }
        String[] q = qemu.split("\r?\n", -1);
        String[] i = isthmus.split("\r?\n", -1);
        StringBuilder diff = new StringBuilder();
        int shown = 0;
        for (int n = 0; n < Math.max(q.length, i.length) && shown < 12; n++) {
            String ql = n < q.length ? q[n] : "<end>";
            String il = n < i.length ? i[n] : "<end>";
            if (!ql.equals(il)) {
                diff.append("line ").append(n + 1).append(":\n  qemu:    ").append(ql).append("\n  isthmus: ")
                        .append(il).append('\n');
                shown++;
            }
        }
        fail("the firmware guest's output differs from QEMU's\n" + diff + "isthmus stderr: " + stderr);
    }
}
