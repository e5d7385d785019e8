package io.isthmus.vmm.pci;

import io.isthmus.vmm.device.Device;
import io.isthmus.vmm.device.IrqLine;
import io.isthmus.vmm.device.Platform;
import io.isthmus.vmm.device.Unassigned;

/**
 * The PCI Express host bridge of {@code -M microvm,pcie=on}, as QEMU's GPEX: a {@link Device} that puts the ECAM
 * region and the 32- and 64-bit MMIO windows of its {@link PcieLayout} on the machine's bus, its bus's INTx lines on
 * GSIs 16-19, and its own function ({@link HostBridge}) at 00:00.0. PCI functions are added before the machine is
 * built ({@link #add}).
 *
 * <p>Lifetime: the machine's; {@link #close()} unmaps every BAR and closes every function. Threading: as
 * {@link Device}; see {@link PciBus} for the bus's.
 */
public final class PcieHost implements Device {
    private final PcieLayout layout;
    private final PciBus bus;
    private final Unassigned.Reports reports;

    /**
     * A host bridge laid out as {@code layout}, its functions' vectors from {@code msi}, accesses to the windows'
     * holes reported to {@code reports}.
     */
    public PcieHost(PcieLayout layout, MsiRouter msi, Unassigned.Reports reports) {
        this.layout = layout;
        this.bus = new PciBus(layout.windows(), msi);
        this.reports = reports;
        bus.add(0, new HostBridge());
    }

    /**
     * Adds {@code function} at {@code devfn} (-1: function 0 of the first free device); returns its devfn.
     *
     * @throws IllegalArgumentException when the address is taken or a BAR fits no window
     */
    public int add(int devfn, PciFunction function) {
        return bus.add(devfn, function);
    }

    /** Its layout. */
    public PcieLayout layout() {
        return layout;
    }

    /** Its bus 0. */
    public PciBus bus() {
        return bus;
    }

    @Override
    public void plug(Platform p) {
        IrqLine[] lines = new IrqLine[4];
        for (int i = 0; i < lines.length; i++) {
            lines[i] = p.gsi(layout.irqBase() + i);
        }
        try {
            bus.plug(lines, p.memory());
            p.mmio(layout.ecamBase(), layout.ecamSize(), new Ecam(bus), "pcie-ecam");
            for (PciBus.Window w : layout.windows()) {
                p.mmio(w.base(), w.size(), new PciWindow(w.base(), bus.memorySpace(),
                        new Unassigned("MMIO", w.base(), false, reports)), w.name());
            }
        } catch (RuntimeException e) {
            // Not plugged, so the machine will not close it: release the vectors taken so far.
            bus.close();
            throw e;
        }
    }

    @Override
    public void reset() {
        bus.reset();
    }

    @Override
    public void close() {
        bus.close();
    }
}
