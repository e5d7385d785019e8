package io.isthmus.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.bus.MmioBus;
import io.isthmus.kvm.bus.PioBus;
import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.kvm.run.ExitDispatcher;
import io.isthmus.kvm.run.ExitHandler;
import io.isthmus.kvm.run.VcpuExit;
import io.isthmus.kvm.run.VcpuThread;
import io.isthmus.kvm.x86.CpuModes;

class RealModeTest {

    @Test
    void pioOfOneTwoAndFourBytesInBothDirections() {
        List<String> writes = new ArrayList<>();
        PioBus pio = new PioBus();
        pio.insert(0x10, 8, new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return switch ((int) offset) {
                    case 0 -> 0xA5;
                    case 2 -> 0xBEEF;
                    case 4 -> 0xCAFEF00DL;
                    default -> 0;
                };
            }

            @Override
            public void write(long offset, int size, long value) {
                writes.add(offset + "/" + size + "=" + Long.toHexString(value));
            }
        }, "test ports");
        try (Kvm kvm = Kvm.open(); GuestMemory mem = GuestMemory.anonymous(1 << 20); Vm vm = kvm.createVm()) {
            vm.setTssAddr(0xfffbd000L);
            vm.addMemory(mem, 0);
            mem.write(0x1000, Guests.build("real_pio", 0x1000));
            Vcpu vcpu = vm.createVcpu(0);
            CpuModes.realMode(vcpu, 0, 0x1000);
            VcpuThread t = VcpuThread.start(vcpu, new ExitDispatcher(pio, new MmioBus()), ExitHandler.STOP);
            VcpuExit exit = t.awaitExit(Duration.ofSeconds(10));
            assertEquals(VcpuExit.Reason.HLT, exit.reason(), exit.describe());
            assertEquals(List.of("0/1=12", "2/2=3456", "4/4=789abcde"), writes);
            assertEquals(0xA5, exit.regs().rbx() & 0xFF);
            assertEquals(0xBEEF, exit.regs().rcx() & 0xFFFF);
            assertEquals(0xCAFEF00DL, exit.regs().rdx() & 0xFFFFFFFFL);
        }
    }
}
