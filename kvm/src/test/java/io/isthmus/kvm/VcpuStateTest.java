package io.isthmus.kvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.isthmus.kvm.TestVm.Mode;
import io.isthmus.kvm.TestVm.Recorder;
import io.isthmus.kvm.run.VcpuExit;
import io.isthmus.sys.Errno;
import io.isthmus.sys.EventFd;
import io.isthmus.sys.Libc;
import io.isthmus.sys.NativeException;

/** MSRs, CPUID, LAPIC, FPU, MP state, irqchip/PIT/irqfd/ioeventfd and binary stats on the real /dev/kvm. */
class VcpuStateTest {
    private static final int IA32_SYSENTER_CS = 0x174, IA32_SYSENTER_ESP = 0x175;

    @Test
    @Tag("kvm")
    void systemQueries() {
        try (Kvm kvm = Kvm.open()) {
            int[] msrs = kvm.msrIndexList();
            assertTrue(Arrays.stream(msrs).anyMatch(m -> m == IA32_SYSENTER_CS), Arrays.toString(msrs));
            Cpuid cpuid = kvm.supportedCpuid();
            int ext = cpuid.find(0x80000001, 0);
            assertTrue(ext >= 0, "leaf 0x80000001 present");
            assertTrue((cpuid.edx(ext) & (1 << 29)) != 0, "long mode supported");
            assertTrue(kvm.maxVcpus() >= kvm.recommendedVcpus());
            assertTrue(kvm.memorySlots() > 0);
            assertTrue(kvm.has(Kvm.CAP_USER_MEMORY));
        }
    }

    @Test
    @Tag("kvm")
    void msrsCpuidFpuRoundTrip() {
        try (TestVm t = new TestVm()) {
            Vcpu v = t.vm.createVcpu(0);
            v.setMsrs(new int[] {IA32_SYSENTER_CS, IA32_SYSENTER_ESP}, new long[] {0x10, 0x7000});
            assertArrayEquals(new long[] {0x10, 0x7000}, v.getMsrs(IA32_SYSENTER_CS, IA32_SYSENTER_ESP));
            Cpuid cpuid = t.kvm.supportedCpuid();
            v.setCpuid2(cpuid);
            Cpuid table = v.getCpuid2(); // KVM may drop leaves it does not keep per vCPU
            assertTrue(table.size() > 0 && table.size() <= cpuid.size(), table.size() + " of " + cpuid.size());
            assertTrue(table.find(0x80000001, 0) >= 0);
            Fpu fpu = v.getFpu().xmm(3, 0x1122334455667788L, 0x99AABBCCDDEEFF00L).fcw(0x27F);
            v.setFpu(fpu);
            Fpu back = v.getFpu();
            assertEquals(0x1122334455667788L, back.xmmLow(3));
            assertEquals(0x99AABBCCDDEEFF00L, back.xmmHigh(3));
            assertEquals(0x27F, back.fcw());
            // (MXCSR is not compared: this host's KVM reports 0 for it whatever is set, from C as well.)
        }
    }

    @Test
    @Tag("kvm")
    void irqchipLapicMpStatePitAndIrqfd() {
        try (TestVm t = new TestVm(); EventFd irq = EventFd.create(0, "irqfd gsi 5")) {
            t.vm.setIdentityMapAddr(0xfeffc000L); // before any vCPU exists
            t.vm.createIrqchip();
            t.vm.createPit2(0);
            Vcpu v = t.vm.createVcpu(3);
            Lapic lapic = v.getLapic();
            assertEquals(3, lapic.get(Lapic.ID) >>> 24, "the LAPIC id is the vCPU id");
            lapic.set(Lapic.TPR, 0x20);
            v.setLapic(lapic);
            assertEquals(0x20, v.getLapic().get(Lapic.TPR));
            v.setMpState(Vcpu.MP_STATE_HALTED);
            assertEquals(Vcpu.MP_STATE_HALTED, v.getMpState());
            t.vm.signalMsi(0xfee00000L | (3 << 12), 0x30); // to APIC id 3, vector 0x30
            t.vm.irqLine(4, true);
            t.vm.irqLine(4, false);
            t.vm.assignIrqfd(irq, 5);
            irq.signal(1);
            NativeException twice = assertThrows(NativeException.class, () -> t.vm.assignIrqfd(irq, 5));
            assertEquals(Errno.EBUSY, twice.errno(), twice.getMessage());
            assertTrue(twice.getMessage().contains("KVM_IRQFD") && twice.getMessage().contains("gsi 5"));
            t.vm.deassignIrqfd(irq, 5);
        }
    }

    @Test
    @Tag("kvm")
    void ioeventfdTakesWritesWithoutExits() {
        try (TestVm t = new TestVm(); EventFd efd = EventFd.create(Libc.EFD_NONBLOCK, "ioeventfd port 0x60")) {
            Recorder port60 = new Recorder(), port61 = new Recorder();
            t.pio.insert(0x60, 1, port60, "port 0x60");
            t.pio.insert(0x61, 1, port61, "port 0x61");
            t.vm.assignIoeventfd(efd, 0x60, 1, true, null);
            VcpuExit exit = t.run(t.vcpu(0, Mode.PROTECTED, "ioeventfd"));
            assertEquals(VcpuExit.Reason.HLT, exit.reason(), exit.describe());
            assertEquals(2, efd.read(), "both writes signalled the eventfd");
            assertEquals(List.of(), port60.writes, "and neither exited to user space");
            assertEquals(List.of("0/1=7"), port61.writes);
            t.vm.deassignIoeventfd(efd, 0x60, 1, true, null);
        }
    }

    @Test
    @Tag("kvm")
    void binaryStatsCountExits() {
        try (TestVm t = new TestVm()) {
            assertTrue(t.kvm.hasBinaryStats(), "this kernel has KVM_GET_STATS_FD");
            Vcpu v = t.vcpu(0, Mode.PROTECTED, "prot_pio");
            t.pio.insert(0x10, 0x20, new Recorder(), "ports");
            assertEquals(VcpuExit.Reason.HLT, t.run(v).reason());
            try (KvmStats vcpuStats = v.stats(); KvmStats vmStats = t.vm.stats()) {
                Map<String, Long> s = vcpuStats.snapshot();
                // 1 OUT + 3 IN + HLT. (Nested "PVM" KVM counts its PIO exits under insn_emulation, not io_exits.)
                assertTrue(s.get("exits") >= 5, s.toString());
                assertTrue(s.get("halt_exits") >= 1, s.toString());
                assertTrue(vcpuStats.id().contains("vcpu"), vcpuStats.id());
                assertTrue(vmStats.descriptors().size() > 0);
                assertTrue(vmStats.indexOf("remote_tlb_flush") >= 0 || !vmStats.snapshot().isEmpty());
            }
        }
    }

    @Test
    void missingBinaryStatsAreReportedCleanly() throws Exception {
        // A descriptor without KVM_GET_STATS_FD stands in for a kernel older than 5.14.
        java.nio.file.Path f = java.nio.file.Files.createTempFile("isthmus", "stats");
        try (io.isthmus.sys.Fd fd = io.isthmus.sys.Fd.open(f.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC)) {
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                    () -> Vm.openStats(fd, "old kernel"));
            assertTrue(e.getMessage().contains("KVM_CAP_BINARY_STATS_FD"), e.getMessage());
            assertTrue(e.getMessage().contains("ENOTTY"), e.getMessage());
        } finally {
            java.nio.file.Files.delete(f);
        }
    }
}
