package io.isthmus.kvm;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.bus.MmioBus;
import io.isthmus.kvm.bus.PioBus;
import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.kvm.run.ExitDispatcher;
import io.isthmus.kvm.run.ExitHandler;
import io.isthmus.kvm.run.VcpuExit;
import io.isthmus.kvm.run.VcpuThread;
import io.isthmus.kvm.x86.CpuModes;

/** A VM for tests: RAM at 0, buses, guest code loaded at {@link #CODE}, vCPUs in the requested mode. */
final class TestVm implements AutoCloseable {
    static final long CODE = 0x1000, GDT = 0x500, TABLES = 0x10000, STACK = 0x8000;

    enum Mode { REAL, PROTECTED, LONG }

    final Kvm kvm;
    final GuestMemory mem;
    final Vm vm;
    final PioBus pio = new PioBus();
    final MmioBus mmio = new MmioBus();
    final ExitDispatcher dispatcher = new ExitDispatcher(pio, mmio);

    TestVm(long ramBytes) {
        kvm = Kvm.open();
        mem = GuestMemory.anonymous(ramBytes);
        vm = kvm.createVm();
        vm.setTssAddr(0xfffbd000L);
        vm.addMemory(mem, 0);
    }

    TestVm() {
        this(2 << 20);
    }

    /** Loads {@code guest} at {@link #CODE} and makes vCPU {@code id} start there in {@code mode}. */
    Vcpu vcpu(int id, Mode mode, String guest) {
        mem.write(CODE, Guests.build(guest, CODE));
        Vcpu v = vm.createVcpu(id);
        switch (mode) {
            case REAL -> CpuModes.realMode(v, 0, (int) CODE);
            case PROTECTED -> CpuModes.protectedMode32(v, mem, GDT, CODE);
            case LONG -> CpuModes.longMode(v, mem, GDT, TABLES, 4, CODE);
        }
        v.setRegs(v.getRegs().rsp(STACK));
        return v;
    }

    VcpuThread start(Vcpu v) {
        return VcpuThread.start(v, dispatcher, ExitHandler.STOP);
    }

    /** Runs {@code v} on its own thread until it stops, at most 20 s. */
    VcpuExit run(Vcpu v) {
        VcpuThread t = start(v);
        VcpuExit exit = t.awaitExit(Duration.ofSeconds(20));
        if (exit == null) {
            exit = t.stop();
        }
        assertNotNull(exit);
        return exit;
    }

    @Override
    public void close() {
        vm.close();
        mem.close();
        kvm.close();
    }

    /** A device recording writes as "offset/size=hex" and answering reads from a table. */
    static final class Recorder implements BusDevice {
        final List<String> writes = new CopyOnWriteArrayList<>();
        final Map<Long, Long> values = new ConcurrentHashMap<>();

        Recorder answer(long offset, long value) {
            values.put(offset, value);
            return this;
        }

        @Override
        public long read(long offset, int size) {
            return values.getOrDefault(offset, 0L);
        }

        @Override
        public void write(long offset, int size, long value) {
            writes.add(Long.toHexString(offset) + "/" + size + "=" + Long.toHexString(value));
        }
    }
}
