package io.isthmus.vmm.pci;

import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.bus.MmioBus;
import io.isthmus.kvm.bus.PioBus;
import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.vmm.device.IrqLine;
import io.isthmus.vmm.device.MachineControl;
import io.isthmus.vmm.device.Platform;

import java.util.ArrayList;
import java.util.List;

/** A machine for one device: real buses, GSI levels recorded, no RAM. */
final class TestPlatform implements Platform {
    final MmioBus mmio = new MmioBus();
    final PioBus pio = new PioBus();
    final boolean[] gsi = new boolean[48];
    /** "GSI n high/low", in order. */
    final List<String> gsiLog = new ArrayList<>();

    @Override
    public void pio(long base, long length, BusDevice device, String name) {
        pio.insert(base, length, device, name);
    }

    @Override
    public void mmio(long base, long length, BusDevice device, String name) {
        mmio.insert(base, length, device, name);
    }

    @Override
    public long allocateMmio(long length, long alignment, long from, long to, BusDevice device, String name) {
        return mmio.allocate(length, alignment, from, to, device, name);
    }

    @Override
    public IrqLine isaIrq(int irq) {
        return IrqLine.NONE;
    }

    @Override
    public IrqLine gsi(int n) {
        return level -> {
            synchronized (this) {
                gsi[n] = level;
                gsiLog.add("GSI " + n + (level ? " high" : " low"));
            }
        };
    }

    @Override
    public GuestMemory memory() {
        return null;
    }

    @Override
    public MachineControl control() {
        return null;
    }
}
