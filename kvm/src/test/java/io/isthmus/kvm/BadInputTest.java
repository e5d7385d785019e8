package io.isthmus.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.time.Duration;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.isthmus.kvm.TestVm.Mode;
import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.kvm.run.VcpuExit;
import io.isthmus.sys.Errno;
import io.isthmus.sys.NativeException;

/** Bad input: exceptions name the operation and errno, and the VM stays usable and closeable. */
@Tag("kvm")
class BadInputTest {

    private static void assertNames(NativeException e, String ioctl, int errno) {
        assertEquals(errno, e.errno(), e.getMessage());
        assertTrue(e.getMessage().contains(ioctl), e.getMessage());
        assertTrue(e.getMessage().contains(Errno.symbol(errno)), e.getMessage());
    }

    @Test
    void overlappingSlotIsRefusedWithEexist() {
        try (TestVm t = new TestVm(); GuestMemory other = GuestMemory.anonymous(0x10000)) {
            NativeException e = assertThrows(NativeException.class,
                    () -> t.vm.setMemorySlot(5, 0, 0x100000, other.regions().get(0).host()));
            assertNames(e, "KVM_SET_USER_MEMORY_REGION", Errno.EEXIST);
            assertTrue(e.getMessage().contains("slot 5, guest 0x100000"), e.getMessage());
            assertEquals(1, t.vm.slots().size(), "the failed slot is not recorded");
            // The VM still runs guests.
            assertEquals(VcpuExit.Reason.HLT, t.run(t.vcpu(0, Mode.PROTECTED, "prot_pio")).reason());
        }
    }

    @Test
    void unalignedSlotIsRefusedWithEinval() {
        try (TestVm t = new TestVm(); GuestMemory other = GuestMemory.anonymous(0x10000)) {
            MemorySegment host = other.regions().get(0).host();
            assertNames(assertThrows(NativeException.class,
                    () -> t.vm.setMemorySlot(2, 0, 0x400800, host)), "KVM_SET_USER_MEMORY_REGION", Errno.EINVAL);
            assertNames(assertThrows(NativeException.class,
                    () -> t.vm.setMemorySlot(2, 0, 0x400000, host.asSlice(0x10, 0x1000))),
                    "KVM_SET_USER_MEMORY_REGION", Errno.EINVAL);
            assertNames(assertThrows(NativeException.class,
                    () -> t.vm.setMemorySlot(2, 0, 0x400000, host.asSlice(0, 0x1800))),
                    "KVM_SET_USER_MEMORY_REGION", Errno.EINVAL);
            assertThrows(IllegalArgumentException.class,
                    () -> t.vm.setMemorySlot(2, 0, 0x400000, MemorySegment.ofArray(new byte[4096])));
        }
    }

    @Test
    void tooManyOrDuplicateVcpusAreRefused() {
        try (TestVm t = new TestVm()) {
            int max = t.kvm.maxVcpuId();
            assertNames(assertThrows(NativeException.class, () -> t.vm.createVcpu(max)), "KVM_CREATE_VCPU",
                    Errno.EINVAL);
            t.vm.createVcpu(0);
            NativeException dup = assertThrows(NativeException.class, () -> t.vm.createVcpu(0));
            assertNames(dup, "KVM_CREATE_VCPU", Errno.EEXIST);
            assertTrue(dup.getMessage().contains("vCPU id 0"), dup.getMessage());
            assertEquals(1, t.vm.vcpus().size());
        }
    }

    @Test
    void registersKvmRejectsAreReported() {
        try (TestVm t = new TestVm()) {
            Vcpu v = t.vm.createVcpu(0);
            Sregs bad = v.getSregs().cr0(Sregs.CR0_PG); // paging without protection
            assertNames(assertThrows(NativeException.class, () -> v.setSregs(bad)), "KVM_SET_SREGS", Errno.EINVAL);
            NativeException msr = assertThrows(NativeException.class, () -> v.setMsr(0xDEAD0000, 1));
            assertNames(msr, "KVM_SET_MSRS", Errno.EINVAL);
            assertTrue(msr.getMessage().contains("MSR 0xdead0000"), msr.getMessage());
            // No in-kernel irqchip, so no LAPIC to read.
            assertNames(assertThrows(NativeException.class, () -> v.getLapic()), "KVM_GET_LAPIC", Errno.EINVAL);
            // The vCPU still works after the refusals.
            v.setRegs(v.getRegs().rax(42));
            assertEquals(42, v.getRegs().rax());
        }
    }

    @Test
    void kvmRunFailureIsReportedAndTheVmStaysCloseable() {
        try (TestVm t = new TestVm()) {
            Vcpu v = t.vcpu(0, Mode.PROTECTED, "prot_pio");
            // Sync-register bits KVM does not know: KVM_RUN refuses to enter with EINVAL.
            v.run().segment().set(java.lang.foreign.ValueLayout.JAVA_LONG,
                    io.isthmus.bindings.kvm.kvm_run.kvm_valid_regs$offset(), 1L << 62);
            VcpuExit exit = t.start(v).awaitExit(Duration.ofSeconds(20));
            assertEquals(VcpuExit.Reason.ERROR, exit.reason(), exit.describe());
            NativeException e = (NativeException) exit.error();
            assertNames(e, "KVM_RUN", Errno.EINVAL);
            assertTrue(e.getMessage().contains("kvm-vcpu 0"), e.getMessage());
            assertTrue(exit.regs() != null, "registers still readable after the failure");
            // Fix the page and the same vCPU runs.
            v.run().segment().set(java.lang.foreign.ValueLayout.JAVA_LONG,
                    io.isthmus.bindings.kvm.kvm_run.kvm_valid_regs$offset(), 0);
            assertEquals(VcpuExit.Reason.HLT, t.run(v).reason());
        }
    }

    @Test
    void closedObjectsFailWithEbadfAndCloseTwice() {
        Kvm kvm = Kvm.open();
        Vm vm = kvm.createVm();
        Vcpu v = vm.createVcpu(0);
        vm.close();
        vm.close();
        assertTrue(v.isClosed(), "closing the VM closes its vCPUs");
        assertNames(assertThrows(NativeException.class, v::getRegs), "KVM_GET_REGS", Errno.EBADF);
        assertNames(assertThrows(NativeException.class, vm::createIrqchip), "KVM_CREATE_IRQCHIP", Errno.EBADF);
        assertEquals(-Errno.EBADF, v.runRaw());
        assertThrows(IllegalStateException.class, () -> v.run().exitReason(), "kvm_run is unmapped");
        kvm.close();
        assertNames(assertThrows(NativeException.class, kvm::createVm), "KVM_CREATE_VM", Errno.EBADF);
    }
}
