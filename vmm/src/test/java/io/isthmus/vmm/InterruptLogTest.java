package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code -d int}: every interrupt the VMM injects goes to the log. The irq16 guest takes five PIT ticks (vector
 * 0x20) and one UART interrupt (vector 0x24) through the PIC; the log names each injection, in order.
 */
@Tag("kvm")
class InterruptLogTest {
    @Test
    void dashDIntLogsEachPicInjection() throws Exception {
        Path guest = TestGuests.guest("irq16.bin");
        Path logFile = TestGuests.scratch().resolve("irq16-int.log");
        Files.deleteIfExists(logFile);
        List<String> args = new ArrayList<>(List.of("-serial", "null", "-kernel", guest.toString(), "-d", "int",
                "-D", logFile.toString()));
        args.addAll(TestGuests.EXIT_DEVICE);
        // As a process: the -d log (SLF4J's) is configured once per process.
        TestGuests.Result r = TestGuests.isthmusProcess(args);
        assertEquals(67, r.status(), r.stderr());
        List<String> injections = Files.readAllLines(logFile).stream()
                .filter(l -> l.contains("isthmus.vmm.int - PIC: vector")).toList();
        List<String> timer = injections.stream().filter(l -> l.endsWith("vector 0x20 injected into vCPU 0")).toList();
        List<String> uart = injections.stream().filter(l -> l.endsWith("vector 0x24 injected into vCPU 0")).toList();
        assertTrue(timer.size() >= 5, "at least the 5 ticks the guest waits for: " + injections);
        assertEquals(1, uart.size(), "one UART interrupt: " + injections);
        assertEquals(injections.size(), timer.size() + uart.size(), "nothing else injected: " + injections);
        assertTrue(injections.indexOf(uart.get(0)) >= 5, "the UART interrupt came after the ticks");
    }
}
