package io.isthmus.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.isthmus.bindings.kvm.kvm_h;
import io.isthmus.kvm.TestVm.Recorder;
import io.isthmus.kvm.bus.MmioBus;
import io.isthmus.kvm.bus.PioBus;
import io.isthmus.kvm.run.ExitDispatcher;

/** Exit decoding and dispatch on a plain segment holding synthetic exits: no /dev/kvm needed. */
class KvmRunTest {

    @Test
    void exitConstantsMatchTheGeneratedHeader() {
        assertEquals(kvm_h.KVM_EXIT_IO(), KvmRun.EXIT_IO);
        assertEquals(kvm_h.KVM_EXIT_MMIO(), KvmRun.EXIT_MMIO);
        assertEquals(kvm_h.KVM_EXIT_HLT(), KvmRun.EXIT_HLT);
        assertEquals(kvm_h.KVM_EXIT_SHUTDOWN(), KvmRun.EXIT_SHUTDOWN);
        assertEquals(kvm_h.KVM_EXIT_FAIL_ENTRY(), KvmRun.EXIT_FAIL_ENTRY);
        assertEquals(kvm_h.KVM_EXIT_INTR(), KvmRun.EXIT_INTR);
        assertEquals(kvm_h.KVM_EXIT_INTERNAL_ERROR(), KvmRun.EXIT_INTERNAL_ERROR);
        assertEquals(kvm_h.KVM_EXIT_SYSTEM_EVENT(), KvmRun.EXIT_SYSTEM_EVENT);
        assertEquals(kvm_h.KVM_EXIT_IOAPIC_EOI(), KvmRun.EXIT_IOAPIC_EOI);
        assertEquals(kvm_h.KVM_EXIT_IO_IN(), KvmRun.IO_IN);
        assertEquals(kvm_h.KVM_EXIT_IO_OUT(), KvmRun.IO_OUT);
        assertEquals(kvm_h.KVM_MEM_READONLY(), MemorySlot.READONLY);
        assertEquals(kvm_h.KVM_MEM_LOG_DIRTY_PAGES(), MemorySlot.LOG_DIRTY_PAGES);
        assertEquals(kvm_h.KVM_CAP_SPLIT_IRQCHIP(), Kvm.CAP_SPLIT_IRQCHIP);
        assertEquals(kvm_h.KVM_CAP_IRQCHIP(), Kvm.CAP_IRQCHIP);
        assertEquals(kvm_h.KVM_CAP_USER_MEMORY(), Kvm.CAP_USER_MEMORY);
        assertEquals(kvm_h.KVM_CAP_SET_TSS_ADDR(), Kvm.CAP_SET_TSS_ADDR);
        assertEquals(kvm_h.KVM_CAP_EXT_CPUID(), Kvm.CAP_EXT_CPUID);
        assertEquals(kvm_h.KVM_CAP_NR_VCPUS(), Kvm.CAP_NR_VCPUS);
        assertEquals(kvm_h.KVM_CAP_NR_MEMSLOTS(), Kvm.CAP_NR_MEMSLOTS);
        assertEquals(kvm_h.KVM_CAP_PIT2(), Kvm.CAP_PIT2);
        assertEquals(kvm_h.KVM_CAP_IRQFD(), Kvm.CAP_IRQFD);
        assertEquals(kvm_h.KVM_CAP_IOEVENTFD(), Kvm.CAP_IOEVENTFD);
        assertEquals(kvm_h.KVM_CAP_SET_IDENTITY_MAP_ADDR(), Kvm.CAP_SET_IDENTITY_MAP_ADDR);
        assertEquals(kvm_h.KVM_CAP_MAX_VCPUS(), Kvm.CAP_MAX_VCPUS);
        assertEquals(kvm_h.KVM_CAP_READONLY_MEM(), Kvm.CAP_READONLY_MEM);
        assertEquals(kvm_h.KVM_CAP_IMMEDIATE_EXIT(), Kvm.CAP_IMMEDIATE_EXIT);
        assertEquals(kvm_h.KVM_CAP_MAX_VCPU_ID(), Kvm.CAP_MAX_VCPU_ID);
        assertEquals(kvm_h.KVM_CAP_BINARY_STATS_FD(), Kvm.CAP_BINARY_STATS_FD);
        assertEquals(kvm_h.KVM_MP_STATE_HALTED(), Vcpu.MP_STATE_HALTED);
    }

    @Test
    void repOutAndInGoThroughThePioBus() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment page = arena.allocate(8192, 4096);
            KvmRun run = new KvmRun(page);
            Recorder dev = new Recorder().answer(2, 0xABCD);
            PioBus pio = new PioBus();
            pio.insert(0x3f8, 8, dev, "uart");
            ExitDispatcher d = new ExitDispatcher(pio, new MmioBus());

            run.setIo(KvmRun.IO_OUT, 1, 0x3f8, 3, 4096);
            page.asSlice(4096, 3).copyFrom(MemorySegment.ofArray(new byte[] {'h', 'i', '\n'}));
            assertTrue(d.dispatch(run));
            assertEquals(List.of("0/1=68", "0/1=69", "0/1=a"), dev.writes);

            run.setIo(KvmRun.IO_IN, 2, 0x3fa, 2, 4096);
            assertTrue(d.dispatch(run));
            assertEquals(0xABCD, page.get(ValueLayout.JAVA_SHORT_UNALIGNED, 4096) & 0xFFFF);
            assertEquals(0xABCD, page.get(ValueLayout.JAVA_SHORT_UNALIGNED, 4098) & 0xFFFF);

            run.setIo(KvmRun.IO_IN, 4, 0x80, 1, 4096); // no device: all ones
            assertTrue(d.dispatch(run));
            assertEquals(0xFFFFFFFFL, run.ioData(0));
            assertEquals(1, pio.unhandled());
        }
    }

    @Test
    void mmioReadsAndWritesGoThroughTheMmioBus() {
        try (Arena arena = Arena.ofConfined()) {
            KvmRun run = new KvmRun(arena.allocate(KvmRun.SIZE, 8));
            Recorder dev = new Recorder().answer(0x10, 0x1122334455667788L);
            MmioBus mmio = new MmioBus();
            mmio.insert(0xfee00000L, 0x1000, dev, "lapic");
            ExitDispatcher d = new ExitDispatcher(new PioBus(), mmio);

            run.setMmio(0xfee00010L, 8, false, 0);
            assertTrue(d.dispatch(run));
            assertEquals(0x1122334455667788L, run.mmioData());
            run.setMmio(0xfee00010L, 2, false, 0);
            assertTrue(d.dispatch(run));
            assertEquals(0x7788, run.mmioData());
            run.setMmio(0xfee000b0L, 4, true, 0xFFFFFFFF_00000001L);
            assertTrue(d.dispatch(run));
            assertEquals(List.of("b0/4=1"), dev.writes, "only len bytes of the data are the write");

            run.exitReason(KvmRun.EXIT_HLT);
            assertFalse(d.dispatch(run));
            assertEquals("HLT", KvmRun.exitName(run.exitReason()));
        }
    }
}
