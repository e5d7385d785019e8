package io.isthmus.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.isthmus.kvm.TestVm.Mode;
import io.isthmus.kvm.TestVm.Recorder;
import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.run.VcpuExit;
import io.isthmus.kvm.run.VcpuThread;

/** The vCPU thread: kicks, pause/resume/stop from another thread, several vCPUs at once. */
@Tag("kvm")
class VcpuThreadTest {

    @Test
    void spinningGuestIsKickedOutOfKvmRun() {
        try (TestVm t = new TestVm()) {
            VcpuThread thread = t.start(t.vcpu(0, Mode.PROTECTED, "spin"));
            assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
                while (thread.state() != VcpuThread.State.RUNNING) {
                    Thread.onSpinWait();
                }
                Thread.sleep(200); // the guest is now inside KVM_RUN, spinning without exits
                assertNull(thread.awaitExit(Duration.ofMillis(1)), "a spinning guest does not stop by itself");
                assertTrue(thread.pause(), "kicked out of KVM_RUN and paused");
                assertTrue(thread.kicksTaken() >= 1, "the kick made KVM_RUN return EINTR");
                Regs regs = t.vm.vcpus().get(0).getRegs();
                assertEquals(TestVm.CODE, regs.rip(), "paused on the jmp");
                thread.resume();
                Thread.sleep(50);
                VcpuExit exit = thread.stop();
                assertEquals(VcpuExit.Reason.STOPPED, exit.reason(), exit.describe());
                assertTrue(thread.kicksTaken() >= 2);
            });
        }
    }

    private static void assertNull(Object o, String message) {
        org.junit.jupiter.api.Assertions.assertNull(o, message);
    }

    @Test
    void closingTheVmStopsItsRunningVcpuThreads() {
        try (TestVm t = new TestVm()) {
            VcpuThread thread = t.start(t.vcpu(0, Mode.PROTECTED, "spin"));
            assertThrows(IllegalStateException.class, () -> t.start(t.vm.vcpus().get(0)),
                    "one runner per vCPU");
            assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
                while (thread.state() != VcpuThread.State.RUNNING) {
                    Thread.onSpinWait();
                }
                t.vm.close(); // the guest spins in KVM_RUN: the close must kick and stop it first
                assertEquals(VcpuThread.State.FINISHED, thread.state());
                assertEquals(VcpuExit.Reason.STOPPED, thread.awaitExit(Duration.ZERO).reason());
            });
        }
    }

    @Test
    void pauseAndResumeFromAnotherThread() throws Exception {
        try (TestVm t = new TestVm()) {
            AtomicLong last = new AtomicLong();
            t.pio.insert(0x50, 4, new BusDevice() {
                @Override
                public long read(long offset, int size) {
                    return 0;
                }

                @Override
                public void write(long offset, int size, long value) {
                    last.set(value);
                }
            }, "counter port");
            VcpuThread thread = t.start(t.vcpu(0, Mode.PROTECTED, "counter"));
            assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
                while (last.get() < 100) {
                    Thread.sleep(1);
                }
                assertTrue(thread.pause());
                assertEquals(VcpuThread.State.PAUSED, thread.state());
                long atPause = last.get();
                Thread.sleep(100);
                assertEquals(atPause, last.get(), "no exits while paused");
                Regs regs = t.vm.vcpus().get(0).getRegs();
                assertEquals(atPause, regs.rax() & 0xFFFFFFFFL, "registers readable while paused");
                thread.resume();
                while (last.get() < atPause + 100) {
                    Thread.sleep(1);
                }
                VcpuExit exit = thread.stop();
                assertEquals(VcpuExit.Reason.STOPPED, exit.reason());
                assertNotNull(exit.regs());
                assertFalse(thread.pause(), "a finished thread cannot pause");
            });
        }
    }

    @Test
    void twoVcpusRunAtTheSameTime() {
        try (TestVm t = new TestVm()) {
            Recorder port = new Recorder();
            t.pio.insert(0x40, 4, port, "done port");
            Vcpu v0 = t.vcpu(0, Mode.PROTECTED, "smp");
            Vcpu v1 = t.vcpu(1, Mode.PROTECTED, "smp");
            v0.setRegs(v0.getRegs().rax(0).rbx(0x9000).rcx(0x9004).rsp(0x8000));
            v1.setRegs(v1.getRegs().rax(1).rbx(0x9004).rcx(0x9000).rsp(0x7000));
            VcpuThread t0 = t.start(v0);
            VcpuThread t1 = t.start(v1);
            VcpuExit e0 = t0.awaitExit(Duration.ofSeconds(20));
            VcpuExit e1 = t1.awaitExit(Duration.ofSeconds(20));
            if (e0 == null || e1 == null) {
                t0.stop();
                t1.stop();
            }
            assertNotNull(e0, "vCPU 0 finished only if vCPU 1 ran meanwhile");
            assertNotNull(e1);
            assertEquals(VcpuExit.Reason.HLT, e0.reason());
            assertEquals(VcpuExit.Reason.HLT, e1.reason());
            assertEquals(List.of("0/4=0", "0/4=1"), port.writes.stream().sorted().toList());
        }
    }
}
