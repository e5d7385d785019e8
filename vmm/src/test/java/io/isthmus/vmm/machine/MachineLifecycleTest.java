package io.isthmus.vmm.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A machine is created, run to its end and closed many times in one JVM (as the tests and an embedding program
 * do), leaking neither file descriptors (/dev/kvm, the VM's and vCPUs' fds, RAM's memfd) nor threads (vCPUs, the
 * PIT's, the serial input's).
 */
@Tag("kvm")
class MachineLifecycleTest {
    private static final int RUNS = 5;

    private static long openFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    /** The machine's threads still alive, by name, and every live non-daemon thread but this one. */
    private static List<String> machineThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(Thread::isAlive)
                .filter(t -> t.getName().startsWith("vcpu-") || t.getName().equals("pit")
                        || t.getName().startsWith("serial-") || (!t.isDaemon() && t != Thread.currentThread()
                        && !t.getName().equals("main")))
                .map(t -> t.getName() + (t.isDaemon() ? "" : " (non-daemon)"))
                .sorted()
                .toList();
    }

    private static void runOnce(int i) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
        PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);
        int status;
        try (MicroVm vm = MachineGuests.create("multiboot.elf", out, err, "-m", "16",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=4")) {
            status = vm.run();
            vm.flush();
        }
        assertEquals((0x21 << 1) | 1, status, "run " + i + ": the guest's isa-debug-exit status; stderr: "
                + errBytes + " serial: " + out);
        assertTrue(out.size() > 0, "run " + i + " printed nothing");
    }

    @Test
    void createRunCloseManyTimesLeaksNothing() throws Exception {
        runOnce(0); // loads the classes and native libraries once
        List<String> threadsBefore = waitForThreads(List.of());
        long fdsBefore = openFds();
        for (int i = 1; i <= RUNS; i++) {
            runOnce(i);
        }
        List<String> threadsAfter = waitForThreads(threadsBefore);
        long fdsAfter = openFds();
        System.out.println("[MachineLifecycleTest] fds " + fdsBefore + " -> " + fdsAfter + ", threads "
                + threadsBefore + " -> " + threadsAfter);
        // Each machine holds at least /dev/kvm, the VM, a vCPU and RAM's memfd: a leak shows as 4 or more per run.
        assertTrue(fdsAfter <= fdsBefore + 2, "file descriptors " + fdsBefore + " before " + RUNS + " runs, "
                + fdsAfter + " after");
        assertEquals(threadsBefore, threadsAfter, "threads left behind by " + RUNS + " machines");
    }

    /** The machine threads, once they are {@code expected} or 5 s have passed (a daemon may take a moment to end). */
    private static List<String> waitForThreads(List<String> expected) throws InterruptedException {
        List<String> now = machineThreads();
        for (int i = 0; i < 50 && !now.equals(expected); i++) {
            Thread.sleep(100);
            now = machineThreads();
        }
        return now;
    }
}
