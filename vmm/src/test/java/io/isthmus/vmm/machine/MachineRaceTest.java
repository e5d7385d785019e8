package io.isthmus.vmm.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.kvm.Kvm;
import io.isthmus.kvm.Vm;
import io.isthmus.kvm.bus.MmioBus;
import io.isthmus.kvm.bus.PioBus;
import io.isthmus.kvm.run.ExitDispatcher;
import io.isthmus.kvm.run.ExitHandler;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The two races of issue 11, on real KVM (the lab): a QMP {@code stop} racing a guest's reset must leave no vCPU
 * running, and {@link Vcpus#kickBsp} must survive the vCPU threads being replaced under it.
 */
@Tag("kvm")
class MachineRaceTest {
    /**
     * A guest resets itself in a loop (resetloop.c: one serial byte, then the i8042 reset) while this thread, as a
     * QMP client would, calls {@code cont} and {@code stop} at random moments. Once {@code stop} has returned the
     * serial output must not grow: with the old code a reset that read the run state before the {@code stop} and
     * started its vCPU threads after it left them running while the machine said PAUSED.
     */
    @Test
    void noVcpuRunsAfterStopReturnsWhileTheGuestResets() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
        PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);
        AtomicInteger resets = new AtomicInteger();
        try (MicroVm vm = MachineGuests.create("resetloop.elf", out, err, "-m", "16")) {
            vm.addListener((event, guest, reason) -> {
                if (event.equals("RESET")) {
                    resets.incrementAndGet();
                }
            });
            int[] status = {-1};
            Thread main = Thread.ofPlatform().name("machine-main").start(() -> status[0] = vm.run());
            // 4 s and at least 10 resets, however slow the lab's emulated CPU is today (at most 30 s).
            long start = System.nanoTime(), end = start + Duration.ofSeconds(4).toNanos();
            long hardEnd = start + Duration.ofSeconds(30).toNanos();
            int cycles = 0;
            while ((System.nanoTime() < end || resets.get() < 10 || cycles < 10) && System.nanoTime() < hardEnd) {
                vm.cont();
                LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(5_000_000));
                vm.stop();
                assertEquals(MicroVm.RunState.PAUSED, vm.state());
                // The UART hands the guest's bytes to an output thread, so what a vCPU wrote before stop() may
                // still arrive for a moment: wait until the output has been still for 30 ms (a vCPU still running
                // this guest prints every few ms, so it never gets there), then watch it for 15 ms more.
                long settleEnd = System.nanoTime() + Duration.ofSeconds(2).toNanos();
                int quiet = out.size();
                while (true) {
                    Thread.sleep(30);
                    int now = out.size();
                    if (now == quiet) {
                        break;
                    }
                    assertTrue(System.nanoTime() < settleEnd, "the guest kept printing for 2 s after stop() returned"
                            + " (cycle " + cycles + ")");
                    quiet = now;
                }
                int n = out.size();
                Thread.sleep(15);
                assertEquals(n, out.size(), "a vCPU ran after stop() returned (cycle " + cycles + ", " + resets.get()
                        + " resets so far); the guest printed " + new String(out.toByteArray(), n,
                        out.size() - n, StandardCharsets.US_ASCII));
                cycles++;
            }
            assertTrue(resets.get() >= 10, "the guest reset " + resets.get() + " times in " + cycles
                    + " cycles; the race needs resets. stderr: " + errBytes);
            String s = out.toString(StandardCharsets.US_ASCII);
            assertTrue(s.matches("b+"), s);
            vm.quit();
            main.join(30_000);
            assertEquals(0, status[0], "quit ends the machine with 0; stderr: " + errBytes);
            System.out.println("[MachineRaceTest] " + cycles + " stop/cont cycles, " + resets.get() + " resets, "
                    + out.size() + " serial bytes");
        }
    }

    /**
     * {@link Vcpus#kickBsp} (what the PIC calls, from any device's thread) hammered while the main thread starts and
     * stops the vCPU threads over and over, as resets do: it must never throw. The old code checked
     * {@code isEmpty()} and then called {@code get(0)} on a list the restart had just cleared.
     */
    @Test
    void kickBspSurvivesThreadRestarts() throws Exception {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
                vm.setIdentityMapAddr(MachineBuilder.IDENTITY_MAP);
                vm.setTssAddr(MachineBuilder.TSS);
                vm.enableSplitIrqchip(Interrupts.IOAPIC_GSIS);
                Vcpus vcpus = new Vcpus(kvm, vm, 1);
                List<Throwable> failures = new CopyOnWriteArrayList<>();
                AtomicBoolean done = new AtomicBoolean();
                AtomicInteger kicks = new AtomicInteger();
                Thread kicker = Thread.ofPlatform().name("kicker").start(() -> {
                    while (!done.get()) {
                        try {
                            vcpus.kickBsp();
                            kicks.incrementAndGet();
                            // Often enough to land in every restart (thread creation takes milliseconds), rarely
                            // enough not to fill the user's queue of pending real-time signals.
                            LockSupport.parkNanos(20_000);
                        } catch (Throwable t) {
                            failures.add(t);
                            return;
                        }
                    }
                });
                ExitDispatcher dispatcher = new ExitDispatcher(new PioBus(), new MmioBus());
                int restarts = 0;
                try {
                    for (; restarts < 8 && failures.isEmpty(); restarts++) {
                        vcpus.start(dispatcher, id -> ExitHandler.STOP, null, true); // paused: never enters
                        vcpus.stopAll();
                    }
                } finally {
                    done.set(true);
                    kicker.join();
                    vcpus.close();
                }
                assertEquals(List.of(), failures, "kickBsp threw after " + restarts + " restarts");
                assertTrue(kicks.get() > restarts, kicks.get() + " kicks over " + restarts + " restarts");
                System.out.println("[MachineRaceTest] " + restarts + " restarts, " + kicks.get() + " kicks");
            }
        });
    }
}
