package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.bus.MmioBus;
import io.isthmus.kvm.bus.PioBus;
import io.isthmus.kvm.memory.GuestMemory;

/**
 * A {@link Platform} for driving one device model alone: real port and MMIO buses (so accesses are dispatched as a
 * machine dispatches them, all ones where nothing is), the given RAM, no interrupt lines, and a control that
 * records exits and resets. Not thread-safe beyond what the buses are.
 */
final class TestPlatform implements Platform {
    final PioBus pio = new PioBus();
    final MmioBus mmio = new MmioBus();
    private final GuestMemory memory;
    String exit;

    TestPlatform(GuestMemory memory) {
        this.memory = memory;
    }

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
        throw new UnsupportedOperationException("no interrupt lines on the test platform");
    }

    @Override
    public IrqLine gsi(int gsi) {
        throw new UnsupportedOperationException("no interrupt lines on the test platform");
    }

    @Override
    public GuestMemory memory() {
        return memory;
    }

    @Override
    public MachineControl control() {
        return new MachineControl() {
            @Override
            public void exit(int status, String why) {
                exit = "exit " + status + ": " + why;
            }

            @Override
            public void reset(String why) {
                exit = "reset: " + why;
            }
        };
    }
}
