package io.isthmus.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.isthmus.kvm.TestVm.Mode;
import io.isthmus.kvm.TestVm.Recorder;
import io.isthmus.kvm.run.VcpuExit;

/** Guests in real, protected and long mode on the real /dev/kvm, built from assembly at test time. */
@Tag("kvm")
class GuestModesTest {

    @Test
    void realModePioOfOneTwoAndFourBytesBothWays() {
        try (TestVm t = new TestVm()) {
            Recorder dev = new Recorder().answer(0, 0xA5).answer(2, 0xBEEF).answer(4, 0xCAFEF00DL);
            t.pio.insert(0x10, 8, dev, "test ports");
            VcpuExit exit = t.run(t.vcpu(0, Mode.REAL, "real_pio"));
            assertEquals(VcpuExit.Reason.HLT, exit.reason(), exit.describe());
            assertEquals(List.of("0/1=12", "2/2=3456", "4/4=789abcde"), dev.writes);
            assertEquals(0xA5, exit.regs().rbx() & 0xFF);
            assertEquals(0xBEEF, exit.regs().rcx() & 0xFFFF);
            assertEquals(0xCAFEF00DL, exit.regs().rdx() & 0xFFFFFFFFL);
            assertEquals(0, exit.sregs().cr0() & Sregs.CR0_PE, "still in real mode");
        }
    }

    @Test
    void protectedModePioAndMemory() {
        try (TestVm t = new TestVm()) {
            Recorder out = new Recorder();
            Recorder in = new Recorder().answer(0, 0x5A).answer(2, 0xF00D).answer(4, 0x12345678L);
            t.pio.insert(0x20, 1, out, "out port");
            t.pio.insert(0x10, 8, in, "in ports");
            VcpuExit exit = t.run(t.vcpu(0, Mode.PROTECTED, "prot_pio"));
            assertEquals(VcpuExit.Reason.HLT, exit.reason(), exit.describe());
            assertEquals(List.of("0/4=deadbeef"), out.writes);
            assertEquals(0x11223344, t.mem.readInt(0x8000));
            assertEquals(0x5A, exit.regs().rbx() & 0xFF);
            assertEquals(0xF00D, exit.regs().rcx() & 0xFFFF);
            assertEquals(0x12345678L, exit.regs().rdx() & 0xFFFFFFFFL);
            assertTrue((exit.sregs().cr0() & Sregs.CR0_PE) != 0);
        }
    }

    @Test
    void longModeMmioOfOneTwoFourAndEightBytesBothWays() {
        try (TestVm t = new TestVm()) {
            Recorder mmio = new Recorder().answer(0, 0xE1).answer(8, 0xE2E3).answer(16, 0xE4E5E6E7L)
                    .answer(24, 0xF0F1F2F3F4F5F6F7L);
            Recorder port = new Recorder();
            t.mmio.insert(0xd0000000L, 0x1000, mmio, "test mmio");
            t.pio.insert(0x12, 2, port, "done port");
            VcpuExit exit = t.run(t.vcpu(0, Mode.LONG, "long_mmio"));
            assertEquals(VcpuExit.Reason.HLT, exit.reason(), exit.describe());
            assertEquals(List.of("0/1=11", "8/2=2233", "10/4=44556677", "18/8=8899aabbccddeeff"), mmio.writes);
            assertEquals(List.of("0/2=1234"), port.writes);
            assertEquals(0xE1, exit.regs().rbx());
            assertEquals(0xE2E3, exit.regs().rcx());
            assertEquals(0xE4E5E6E7L, exit.regs().rdx());
            assertEquals(0xF0F1F2F3F4F5F6F7L, exit.regs().rsi());
            assertTrue((exit.sregs().efer() & Sregs.EFER_LMA) != 0, "long mode active");
        }
    }

    @Test
    void tripleFaultIsShutdown() {
        try (TestVm t = new TestVm()) {
            VcpuExit exit = t.run(t.vcpu(0, Mode.PROTECTED, "triple_fault"));
            assertEquals(VcpuExit.Reason.SHUTDOWN, exit.reason(), exit.describe());
            assertEquals(KvmRun.EXIT_SHUTDOWN, exit.exitReason());
        }
    }
}
