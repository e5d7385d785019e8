package io.isthmus.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/isthmus vmm} where it runs the VM in the lab ({@code --kvm=lab}, which a host without {@code /dev/kvm}
 * gets by default): a guest from a host directory boots on the lab's nested KVM, the terminal's input reaches its
 * UART, its output comes back on standard output, the launcher says in one line where the VM runs, and the guest's
 * exit status is the command's. One lab boot.
 */
class LabFallbackTest {
    private static final Path ROOT = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().getParent();

    @Test
    void vmmRunsInTheLabWithTheTerminalsStreamsAndTheGuestsStatus(@TempDir Path dir) throws Exception {
        // The echo guest of the vmm tests (vmm/src/test/guests/echo.c): "ready", then "got <hex>" per byte read on
        // COM1; 'q' powers off through isa-debug-exit with 0x21 (exit status 67).
        Path guest = dir.resolve("echo guest.elf");
        try (InputStream in = LabFallbackTest.class.getResourceAsStream("/test-guests/echo.elf")) {
            assertTrue(in != null, "the vmm test jar's test-guests/echo.elf is on the class path");
            Files.write(guest, in.readAllBytes());
        }
        ProcessBuilder pb = new ProcessBuilder(ROOT.resolve("bin/isthmus").toString(), "--kvm=lab", "vmm",
                "-M", "microvm", "-accel", "kvm", "-display", "none", "-serial", "stdio",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-kernel", guest.toString());
        pb.environment().put("ISTHMUS_NO_BUILD", "1");
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        p.getOutputStream().write("aq".getBytes(StandardCharsets.US_ASCII));
        p.getOutputStream().close();
        String out = read(p.getInputStream());
        String err = read(p.getErrorStream());
        assertTrue(p.waitFor(10, TimeUnit.MINUTES), "bin/isthmus vmm did not end");
        assertEquals("ready\r\ngot 0x61\r\ngot 0x71\r\n", out, "stderr: " + err); // the guest's own CR LF
        assertEquals(67, p.exitValue(), "stderr: " + err);
        List<String> lines = err.lines().toList();
        assertEquals(1, lines.size(), "one line on stderr: " + err);
        assertTrue(lines.getFirst().startsWith("isthmus: --kvm=lab: running the VM in the lab"), err);
    }

    private static String read(InputStream in) throws IOException {
        return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
    }
}
