package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.bus.MmioBus;
import io.isthmus.kvm.bus.PioBus;
import io.isthmus.kvm.memory.GuestMemory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A {@link Platform} for unit tests of device models: real port and MMIO buses (so accesses go through the same
 * dispatch as a guest's, offsets included), interrupt lines that record every level they are set to, and a
 * {@link MachineControl} that records the exits and resets asked for. No RAM unless one is given.
 *
 * <p>Lifetime: one test. Thread-safe: the buses are; the records are concurrent lists.
 */
public final class FakePlatform implements Platform {
    /** A recorded {@link MachineControl} call: {@code exit} (with its status) or {@code reset}. */
    public record Request(String kind, int status, String why) {}

    /** An interrupt line that remembers its level and every change. */
    public static final class Line implements IrqLine {
        private final List<Boolean> history = new CopyOnWriteArrayList<>();
        private volatile boolean level;

        @Override
        public void set(boolean level) {
            this.level = level;
            history.add(level);
        }

        /** The line's current level. */
        public boolean level() {
            return level;
        }

        /** Every level set, in order. */
        public List<Boolean> history() {
            return history;
        }
    }

    private final PioBus pio = new PioBus();
    private final MmioBus mmio = new MmioBus();
    private final Line[] isa = new Line[16];
    private final Line[] gsis = new Line[48];
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final GuestMemory memory;
    private final MachineControl control = new MachineControl() {
        @Override
        public void exit(int status, String why) {
            requests.add(new Request("exit", status, why));
        }

        @Override
        public void reset(String why) {
            requests.add(new Request("reset", 0, why));
        }
    };

    /** A platform without RAM. */
    public FakePlatform() {
        this(null);
    }

    /** A platform whose {@link #memory()} is {@code memory}. */
    public FakePlatform(GuestMemory memory) {
        this.memory = memory;
        for (int i = 0; i < isa.length; i++) {
            isa[i] = new Line();
        }
        for (int i = 0; i < gsis.length; i++) {
            gsis[i] = new Line();
        }
    }

    /** Plugs {@code device} in, as the machine would; returns it. */
    public <D extends Device> D plug(D device) {
        device.plug(this);
        return device;
    }

    /** The port bus, to access as a guest's {@code in}/{@code out} would. */
    public PioBus pioBus() {
        return pio;
    }

    /** The MMIO bus. */
    public MmioBus mmioBus() {
        return mmio;
    }

    /** ISA line {@code irq} as a device got it. */
    public Line isaLine(int irq) {
        return isa[irq];
    }

    /** GSI line {@code gsi} as a device got it. */
    public Line gsiLine(int gsi) {
        return gsis[gsi];
    }

    /** The exits and resets devices asked for, in order. */
    public List<Request> requests() {
        return new ArrayList<>(requests);
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
        return isa[irq];
    }

    @Override
    public IrqLine gsi(int gsi) {
        return gsis[gsi];
    }

    @Override
    public GuestMemory memory() {
        return memory;
    }

    @Override
    public MachineControl control() {
        return control;
    }
}
