package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.isthmus.sys.Fd;
import io.isthmus.sys.Libc;
import io.isthmus.sys.Termios;

/**
 * {@code -serial stdio} on a real terminal (a pseudo-terminal this test opens): while the VM runs, the terminal is
 * raw, so a single key without Enter reaches the guest (in the terminal's default canonical mode it would wait for
 * a newline); when the VM ends, the terminal has its settings back.
 */
@Tag("kvm")
class SerialTerminalTest {
    private static final int TIOCGPTN = 0x80045430, TIOCSPTLCK = 0x40045431;

    @Test
    void stdioTerminalIsRawWhileTheGuestRunsAndRestoredAfter() throws Exception {
        assumeTrue(java.nio.file.Files.isWritable(Path.of("/dev/ptmx")),
                "no usable /dev/ptmx on this machine: a pseudo-terminal is needed to test -serial stdio on a terminal");
        Path guest = TestGuests.guest("echo.elf");
        try (Fd master = Fd.open("/dev/ptmx", Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC);
             Arena arena = Arena.ofConfined()) {
            MemorySegment n = arena.allocate(ValueLayout.JAVA_INT);
            assertEquals(0, Libc.ioctlRaw(master.get(), TIOCSPTLCK, n)); // unlock (n = 0)
            assertEquals(0, Libc.ioctlRaw(master.get(), TIOCGPTN, n));
            String slavePath = "/dev/pts/" + n.get(ValueLayout.JAVA_INT, 0);
            try (Fd slave = Fd.open(slavePath, Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC)) {
                Termios before = Termios.get(slave.get());
                assertNotNull(before, slavePath + " is a terminal");
                assertTrue((before.lflag() & Termios.ICANON) != 0, "a new pty starts in canonical mode");

                List<String> args = new ArrayList<>(List.of("-M", "microvm", "-accel", "kvm", "-display", "none",
                        "-serial", "stdio"));
                args.addAll(TestGuests.EXIT_DEVICE);
                args.addAll(List.of("-kernel", guest.toString()));
                Process p = new ProcessBuilder(TestGuests.javaCommand(args)).redirectInput(new File(slavePath))
                        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
                try {
                    InputStream out = p.getInputStream();
                    assertTrue(readUntil(out, "ready").contains("ready"));
                    Termios during = Termios.get(slave.get());
                    assertEquals(0, during.lflag() & (Termios.ICANON | Termios.ECHO), "no line editing, no echo");
                    assertEquals(Termios.ISIG, during.lflag() & Termios.ISIG, "Ctrl-C still signals (signal=on)");
                    assertEquals(0, during.iflag() & Termios.ICRNL);
                    assertEquals(1, during.cc(Termios.VMIN));

                    write(master, arena, "a"); // no newline: only a raw terminal passes it on
                    assertTrue(readUntil(out, "got 0x61").contains("got 0x61"));
                    write(master, arena, "q");
                    assertTrue(readUntil(out, "got 0x71").contains("got 0x71"));
                    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
                    assertEquals(67, p.exitValue());
                } finally {
                    p.destroyForcibly();
                }
                Termios after = Termios.get(slave.get());
                assertEquals(before.lflag(), after.lflag(), "local flags restored");
                assertEquals(before.iflag(), after.iflag(), "input flags restored");
                assertEquals(before.cc(Termios.VMIN), after.cc(Termios.VMIN));
            }
        }
    }

    private static void write(Fd fd, Arena arena, String s) {
        MemorySegment b = arena.allocateFrom(s, StandardCharsets.US_ASCII);
        assertEquals(s.length(), Libc.writeRaw(fd.get(), b, s.length()));
    }

    /** Reads until {@code marker} appears (or the stream ends, or 20 s pass) and returns what was read. */
    private static String readUntil(InputStream in, String marker) throws IOException, InterruptedException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            if (in.available() > 0) {
                int b = in.read();
                if (b < 0) {
                    break;
                }
                got.write(b);
                if (got.toString(StandardCharsets.ISO_8859_1).contains(marker)) {
                    break;
                }
            } else {
                Thread.sleep(5);
            }
        }
        return got.toString(StandardCharsets.ISO_8859_1);
    }
}
