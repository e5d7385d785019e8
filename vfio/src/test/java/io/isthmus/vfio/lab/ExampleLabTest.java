package io.isthmus.vfio.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.vfio.dma.DmaBuffer;
import io.isthmus.vfio.example.EduDriver;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The driver author's example ({@link EduDriver}, shown verbatim in the README and the {@code io.isthmus.vfio}
 * package documentation, which {@code ExampleDocsTest} checks) run as a user runs it: its own JVM, on the lab's
 * POSIX-locale console, against the lab's edu.
 */
@Tag("lab")
class ExampleLabTest {

    @Test
    void theReadmeExampleFindsOpensMapsDoesDmaTakesTheInterruptAndCloses() throws Exception {
        String address = Edu.find().address().toString();
        GuestJava.Result r = GuestJava.run(EduDriver.class, address);
        assertEquals(0, r.exit(), r.toString());
        assertEquals(List.of("edu " + address + ": id 0x010000ed",
                String.format("DMA: 2048 bytes RAM -> edu -> RAM at IOVA 0x%x, copy verified", DmaBuffer.pageSize()),
                "closed"), r.out().lines().toList(), r.toString());
        assertEquals("", r.err(), "nothing on stderr: no warning, no exception from a close\n" + r);
        // The example's own mappings and device went with its container: the group opens again here.
        try (Edu edu = Edu.open()) {
            assertEquals(0x010000ed, edu.read(Edu.ID));
        }
    }

    @Test
    void anUncaughtErrorReadsWholeOnAPosixConsole() throws Exception {
        // Device 0x20 is out of range: PciAddress's message names the limits. It used to say them with U+2264,
        // which a POSIX-locale console (US-ASCII) prints as '?'.
        GuestJava.Result r = GuestJava.run(EduDriver.class, "0000:00:20.0");
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.err().contains("java.lang.IllegalArgumentException: PCI address out of range: domain 0, bus 0,"
                + " device 20, function 0 (domain <= ffff, bus <= ff, device <= 1f, function <= 7)"), r.toString());
        assertTrue(r.err().chars().allMatch(c -> c < 0x80 && c != '?'), "a character the console could not show:\n"
                + r);
    }
}
