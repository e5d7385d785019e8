package io.isthmus.vmm.machine;

import io.isthmus.vmm.device.Device;
import io.isthmus.vmm.device.Platform;
import io.isthmus.vmm.virtio.ReportLimiter;
import io.isthmus.vmm.virtio.VirtioDevice;
import io.isthmus.vmm.virtio.VirtioMmioTransport;

import java.io.PrintStream;

/**
 * A virtio device on one of microvm's virtio-mmio slots: its transport at the slot's address on the slot's GSI
 * (the second IOAPIC's, level-triggered, as the DSDT lists it), reset with the machine and closed with it.
 *
 * <p>Lifetime: the machine's; closing waits for a request in flight and releases the device's backend (a file).
 * Threading: as {@link VirtioMmioTransport}.
 */
final class VirtioSlot implements Device {
    private final DeviceManager devices;
    private final VirtioDevice device;
    private final PrintStream err;
    private VirtioMmioTransport transport;

    VirtioSlot(DeviceManager devices, VirtioDevice device, PrintStream err) {
        this.devices = devices;
        this.device = device;
        this.err = err;
    }

    @Override
    public void plug(Platform platform) {
        int slot = devices.takeVirtioSlot();
        transport = new VirtioMmioTransport(device, platform.memory(), platform.gsi(DeviceManager.virtioGsi(slot)),
                new ReportLimiter(line -> err.println("isthmus-vmm: " + line), System::nanoTime));
        platform.mmio(DeviceManager.virtioBase(slot), VirtioMmioTransport.SIZE, transport, "virtio-mmio." + slot);
    }

    @Override
    public void reset() {
        transport.reset();
    }

    @Override
    public void close() {
        if (transport != null) {
            transport.close();
        } else {
            device.close();
        }
    }
}
