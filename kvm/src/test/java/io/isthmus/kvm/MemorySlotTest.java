package io.isthmus.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.BitSet;
import java.util.List;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.isthmus.kvm.TestVm.Mode;
import io.isthmus.kvm.TestVm.Recorder;
import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.kvm.run.VcpuExit;

/** Memory slots on the real /dev/kvm: add/remove, read-only, dirty log. */
@Tag("kvm")
class MemorySlotTest {

    @Test
    void slotAddedThenRemovedTurnsRamIntoMmio() {
        try (TestVm t = new TestVm(); GuestMemory extra = GuestMemory.builder().region(0x200000, 0x1000).build()) {
            Recorder port = new Recorder();
            Recorder mmio = new Recorder().answer(0, 0x0BADF00DL);
            t.pio.insert(0x30, 4, port, "result port");
            t.mmio.insert(0x200000, 0x1000, mmio, "where the slot was");
            extra.writeInt(0x200000, 0x600DCAFE);
            MemorySlot slot = t.vm.addRegion(extra.regions().get(0), 0);
            assertEquals(1, slot.slot());
            Vcpu v = t.vcpu(0, Mode.PROTECTED, "read_addr");
            Regs start = v.getRegs();
            assertEquals(VcpuExit.Reason.HLT, t.run(v).reason());
            assertEquals(List.of("0/4=600dcafe"), port.writes);

            t.vm.removeSlot(slot);
            assertEquals(1, t.vm.slots().size());
            v.setRegs(start);
            assertEquals(VcpuExit.Reason.HLT, t.run(v).reason());
            assertEquals(List.of("0/4=600dcafe", "0/4=badf00d"), port.writes, "the read became an MMIO exit");
        }
    }

    @Test
    void writeToReadOnlySlotArrivesAsMmio() {
        // The memory first, so that it closes after the VM that maps it (closing it first is refused).
        try (GuestMemory rom = GuestMemory.builder().region(0x300000, 0x1000).build(); TestVm t = new TestVm()) {
            rom.writeInt(0x300000, 0x12345678);
            t.vm.addRegion(rom.regions().get(0), MemorySlot.READONLY);
            Recorder port = new Recorder();
            Recorder mmio = new Recorder();
            t.pio.insert(0x30, 4, port, "result port");
            t.mmio.insert(0x300000, 0x1000, mmio, "rom writes");
            VcpuExit exit = t.run(t.vcpu(0, Mode.PROTECTED, "readonly"));
            assertEquals(VcpuExit.Reason.HLT, exit.reason(), exit.describe());
            assertEquals(List.of("0/4=55667788"), mmio.writes);
            assertEquals(List.of("0/4=12345678"), port.writes, "reads still come from the slot");
            assertEquals(0x12345678, rom.readInt(0x300000));
        }
    }

    @Test
    void dirtyLogReportsExactlyThePagesTheGuestWrote() {
        try (Kvm kvm = Kvm.open();
             GuestMemory low = GuestMemory.builder().region(0, 0x100000).build();
             GuestMemory logged = GuestMemory.builder().region(0x100000, 16 * 4096).build();
             Vm vm = kvm.createVm()) {
            vm.setTssAddr(0xfffbd000L);
            vm.addMemory(low, 0);
            MemorySlot slot = vm.addRegion(logged.regions().get(0), MemorySlot.LOG_DIRTY_PAGES);
            assertEquals(new BitSet(), vm.dirtyLog(slot), "nothing written yet");
            low.write(TestVm.CODE, Guests.build("dirty", TestVm.CODE));
            Vcpu v = vm.createVcpu(0);
            io.isthmus.kvm.x86.CpuModes.protectedMode32(v, low, TestVm.GDT, TestVm.CODE);
            var thread = io.isthmus.kvm.run.VcpuThread.start(v, new io.isthmus.kvm.run.ExitDispatcher(
                    new io.isthmus.kvm.bus.PioBus(), new io.isthmus.kvm.bus.MmioBus()),
                    io.isthmus.kvm.run.ExitHandler.STOP);
            assertEquals(VcpuExit.Reason.HLT, thread.awaitExit(java.time.Duration.ofSeconds(20)).reason());
            BitSet expected = new BitSet();
            expected.set(1);
            expected.set(3);
            expected.set(7);
            assertEquals(expected, vm.dirtyLog(slot));
            assertEquals(new BitSet(), vm.dirtyLog(slot), "reading the log clears it");
            assertEquals(3, logged.readByte(0x107800));
        }
    }
}
