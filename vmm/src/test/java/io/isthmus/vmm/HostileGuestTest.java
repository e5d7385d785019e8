package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A guest that hammers random ports and MMIO addresses: the VMM keeps running, reports the unassigned accesses
 * rate-limited on stderr, and exits cleanly with the guest's status. CI runs 200,000 accesses (about as many
 * exits); {@code -Dhostile.accesses=1000000} runs the full million.
 */
@Tag("kvm")
class HostileGuestTest {
    @Test
    void survivesRandomPortAndMmioAccessesSilentlyAsQemu() {
        int n = Integer.getInteger("hostile.accesses", 200_000);
        Path guest = TestGuests.guest("hostile.elf");
        List<String> args = new ArrayList<>(List.of("-serial", "stdio", "-kernel", guest.toString(), "-append",
                "n=" + n));
        args.addAll(TestGuests.EXIT_DEVICE);
        TestGuests.Result r = TestGuests.isthmus(args);
        assertEquals(67, r.status(), "exit status; stderr tail: " + tail(r.stderr()));
        assertTrue(r.out().contains("survived " + n + " accesses"), r.out());
        // QEMU prints nothing for accesses nothing handles; -d guest_errors shows them (below).
        assertEquals("", r.stderr().replaceAll("(?m)^.*host doesn't support.*\\n", ""));
    }

    /** As a process: the {@code -d} log (SLF4J's) is configured once per process. */
    @Test
    void dashDLogsUnassignedAccessesRateLimitedAndResetsToTheLogFile() throws Exception {
        Path guest = TestGuests.guest("hostile.elf");
        Path logFile = TestGuests.scratch().resolve("hostile.log");
        java.nio.file.Files.deleteIfExists(logFile);
        List<String> args = new ArrayList<>(List.of("-serial", "null", "-kernel", guest.toString(), "-append",
                "n=20000", "-d", "guest_errors,cpu_reset", "-D", logFile.toString()));
        args.addAll(TestGuests.EXIT_DEVICE);
        long t0 = System.nanoTime();
        TestGuests.Result r = TestGuests.isthmusProcess(args);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(67, r.status(), r.stderr());
        String log = java.nio.file.Files.readString(logFile);
        assertTrue(log.contains("INFO isthmus.vmm - CPU reset: PROTECTED_FLAT entry 0x"), log);
        assertTrue(log.contains("WARN isthmus.vmm.guest_errors - unassigned "), log);
        assertTrue(log.contains("more unassigned accesses not shown"), log);
        assertTrue(log.contains("exit status 67"), log);
        // At most 10 reports and one summary per second of run time, plus the final summary.
        long lines = log.lines().filter(l -> l.contains("guest_errors")).count();
        assertTrue(lines <= 11 * (ms / 1000 + 2) + 1, lines + " log lines in " + ms + " ms");
        assertEquals("", r.stderr().replaceAll("(?m)^.*host doesn't support.*\\n", ""));
    }

    private static String tail(String s) {
        return s.length() > 2000 ? s.substring(s.length() - 2000) : s;
    }
}
