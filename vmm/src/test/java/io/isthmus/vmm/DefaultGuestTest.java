package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The guests the jar ships (the built-in guest and the vGPU guest driver): the committed bytes are what their build
 * script makes; the built-in guest boots and powers off.
 */
class DefaultGuestTest {

    @Test
    void committedGuestsMatchAFreshBuild() throws IOException {
        Path fresh = TestGuests.scratch().resolve("shipped-guests-fresh");
        TestGuests.Result r = TestGuests.exec(List.of("bash", Path.of("src/main/guest/build.sh").toAbsolutePath()
                .toString(), fresh.toString()), null, 60);
        assertEquals(0, r.status(), r.stderr());
        for (String guest : List.of("default-guest.elf", "vgpu.elf")) {
            byte[] committed;
            try (InputStream in = Main.class.getResourceAsStream("/io/isthmus/vmm/guest/" + guest)) {
                committed = in.readAllBytes();
            }
            assertArrayEquals(Files.readAllBytes(fresh.resolve(guest)), committed, "src/main/resources/io/isthmus/vmm/"
                    + "guest/" + guest + " is stale: run vmm/src/main/guest/build.sh");
        }
    }

    /** As a process, the way {@code bin/isthmus vmm} runs it: {@code main} and its exit status included. */
    @Tag("kvm")
    @Test
    void bootsWithNoKernelAndPowersOff() {
        TestGuests.Result r = TestGuests.isthmusRaw(List.of("-append", "ignored"));
        // -append without -kernel is QEMU's error, so the plain run is the interesting one:
        assertEquals(1, r.status());
        assertTrue(r.stderr().contains("-append only allowed with -kernel option"), r.stderr());
        TestGuests.Result ok = TestGuests.exec(TestGuests.javaCommand(List.of("-m", "256")), new byte[0], 120);
        String out = ok.out();
        assertTrue(out.contains("Hello from the isthmus built-in guest!"), out);
        assertTrue(out.contains("CPU mode:     32-bit protected mode, paging off"), out);
        assertTrue(out.contains("Memory:       256 MiB usable RAM"), out);
        assertTrue(out.contains("Command line: " + Main.DEFAULT_GUEST_NAME + " "), out);
        assertEquals(1, ok.status(), "isa-debug-exit value 0 gives exit status 1; stderr: " + ok.stderr());
    }

    @Tag("kvm")
    @Test
    void sameOutputAsQemuForTheBuiltInGuest() throws IOException {
        Path guest = TestGuests.scratch().resolve(Main.DEFAULT_GUEST_NAME);
        try (InputStream in = Main.class.getResourceAsStream(Main.DEFAULT_GUEST)) {
            Files.write(guest, in.readAllBytes());
        }
        // The same kernel path for both, so both guests print the same command line.
        List<String> args = List.of("-serial", "stdio", "-device", "isa-debug-exit", "-kernel", guest.toString(),
                "-append", "hello");
        TestGuests.Result q = TestGuests.qemu(args);
        TestGuests.Result i = TestGuests.isthmus(args);
        assertTrue(i.out().contains("Command line: " + guest + " hello"), i.out());
        assertEquals(q.out(), i.out(), i.stderr());
        assertEquals(q.status(), i.status());
    }
}
