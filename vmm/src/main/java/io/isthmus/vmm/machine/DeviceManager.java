package io.isthmus.vmm.machine;

import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.bus.MmioBus;
import io.isthmus.kvm.bus.PioBus;
import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.vmm.acpi.AcpiTables;
import io.isthmus.vmm.boot.MemoryMap;
import io.isthmus.vmm.device.Device;
import io.isthmus.vmm.device.EmptyVirtioMmio;
import io.isthmus.vmm.device.IrqLine;
import io.isthmus.vmm.device.MachineControl;
import io.isthmus.vmm.device.Platform;
import io.isthmus.vmm.device.Unassigned;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * The machine's devices and what they occupy: the port and MMIO buses (which know what is free), the interrupt
 * lines, microvm's virtio-mmio slots, and the list of plugged devices that a system reset resets and the machine's
 * close closes. Once every device is plugged, {@link #seal} fills every gap with a reporting filler, so that no
 * access goes unseen.
 *
 * <p>A device is one class implementing {@link Device} and one {@link #add} call. Lifetime: the machine's.
 * Threading: built and sealed on one thread before the vCPUs start; {@link #resetAll} and {@link #closeAll} on the
 * machine's main thread with the vCPUs stopped; the buses are read by vCPU threads (lock-free).
 */
public final class DeviceManager implements Platform {
    /** microvm's virtio-mmio transports: 24 slots at 0xfeb00000, 0x200 apart, each on its own GSI from 24. */
    public static final int VIRTIO_SLOTS = EmptyVirtioMmio.COUNT;

    private final PioBus pio = new PioBus();
    private final MmioBus mmio = new MmioBus();
    private final Interrupts interrupts;
    private final GuestMemory memory;
    private final MachineControl control;
    private final List<Device> devices = new ArrayList<>();
    private final BitSet virtioSlots = new BitSet(VIRTIO_SLOTS);
    private boolean sealed;

    DeviceManager(Interrupts interrupts, GuestMemory memory, MachineControl control) {
        this.interrupts = interrupts;
        this.memory = memory;
        this.control = control;
    }

    /** Plugs {@code device} in and keeps it for resets and the close. */
    public void add(Device device) {
        if (sealed) {
            throw new IllegalStateException("the machine is built; devices are added before it starts");
        }
        device.plug(this);
        devices.add(device);
    }

    /**
     * The first device plugged in that is a {@code type}, or null: for QMP and diagnostics (QMP's {@code query-pci}
     * finds the PCIe host bridge). Called after the machine is built, when the list no longer changes.
     */
    public <T extends Device> T find(Class<T> type) {
        for (Device d : devices) {
            if (type.isInstance(d)) {
                return type.cast(d);
            }
        }
        return null;
    }

    /**
     * The next free virtio-mmio slot, taken: QEMU fills microvm's transports from the last one down (the first
     * {@code -device virtio-*-device} gets slot 23, at 0xfeb02e00 on GSI 47), and so does this machine, so that a
     * guest finds its devices where it finds them under QEMU.
     *
     * @throws IllegalStateException when all 24 are taken
     */
    public int takeVirtioSlot() {
        int slot = virtioSlots.previousClearBit(VIRTIO_SLOTS - 1);
        if (slot < 0) {
            throw new IllegalStateException("no free virtio-mmio transport: microvm has " + VIRTIO_SLOTS);
        }
        virtioSlots.set(slot);
        return slot;
    }

    /** The MMIO base of virtio slot {@code slot}. */
    public static long virtioBase(int slot) {
        return EmptyVirtioMmio.BASE + slot * EmptyVirtioMmio.STRIDE;
    }

    /** The GSI of virtio slot {@code slot}. */
    public static int virtioGsi(int slot) {
        return AcpiTables.IOAPIC2_GSI_BASE + slot;
    }

    /**
     * The virtio slots in use in the order they were taken (highest first), as QEMU's DSDT lists them: a Linux
     * guest then numbers the devices (virtio0, virtio1, ...) in command-line order under either VMM.
     */
    List<AcpiTables.VirtioTransport> virtioTransports() {
        List<AcpiTables.VirtioTransport> out = new ArrayList<>();
        for (int s = virtioSlots.previousSetBit(VIRTIO_SLOTS - 1); s >= 0; s = virtioSlots.previousSetBit(s - 1)) {
            out.add(new AcpiTables.VirtioTransport(s, virtioBase(s), virtioGsi(s)));
        }
        return out;
    }

    /**
     * Ends building: empty virtio slots get QEMU's empty transports, and every remaining gap of the I/O space and of
     * the MMIO space outside RAM a reporting filler, except the ranges in {@code kernelOwned} (the LAPICs' page and
     * KVM's identity-map and TSS pages, which never exit to user space).
     */
    void seal(MemoryMap map, Unassigned.Reports reports, long[][] kernelOwned) {
        for (int s = 0; s < VIRTIO_SLOTS; s++) {
            if (!virtioSlots.get(s)) {
                add(new EmptyVirtioMmio(s));
            }
        }
        sealed = true;
        for (long[] gap : pio.gaps(0, 0x10000)) {
            pio.insert(gap[0], gap[1] - gap[0], new Unassigned("PIO", gap[0], true, reports), "unassigned");
        }
        long highEnd = MemoryMap.HIGH_RAM_BASE + map.highRam();
        List<long[]> gaps = new ArrayList<>(mmio.gaps(map.lowRam(), MemoryMap.HIGH_RAM_BASE));
        gaps.addAll(mmio.gaps(highEnd, 1L << 52)); // a PCI host bridge's 64-bit window may be up there
        for (long[] gap : gaps) {
            long at = gap[0];
            for (long[] k : kernelOwned) {
                if (k[0] >= at && k[0] + k[1] <= gap[1]) {
                    fill(at, k[0], reports);
                    at = k[0] + k[1];
                }
            }
            fill(at, gap[1], reports);
        }
    }

    private void fill(long from, long to, Unassigned.Reports reports) {
        if (from < to) {
            mmio.insert(from, to - from, new Unassigned("MMIO", from, false, reports), "unassigned");
        }
    }

    /** Resets every device, in the order they were added. */
    void resetAll() {
        for (Device d : devices) {
            d.reset();
        }
    }

    /** Closes every device, last added first; the vCPUs have stopped. */
    void closeAll() {
        for (int i = devices.size() - 1; i >= 0; i--) {
            devices.get(i).close();
        }
    }

    PioBus pioBus() {
        return pio;
    }

    MmioBus mmioBus() {
        return mmio;
    }

    // ---- Platform ----

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
        return interrupts.isa(irq);
    }

    @Override
    public IrqLine gsi(int gsi) {
        return interrupts.gsi(gsi);
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
