package io.isthmus.vmm.qmp;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.isthmus.vmm.pci.Pci;
import io.isthmus.vmm.pci.PciBar;
import io.isthmus.vmm.pci.PciBus;
import io.isthmus.vmm.pci.PciConfigSpace;
import io.isthmus.vmm.pci.PciFunction;

import java.util.Map;

/**
 * QMP's {@code query-pci} reply for a machine's PCI bus, in QEMU 7.2's shape ({@code qapi/pci.json},
 * {@code hw/pci/pci.c}'s {@code qmp_query_pci}): a list of buses, each {@code {bus, devices}}; per function its
 * bus/slot/function, {@code class_info} ({@code desc} only for the classes QEMU names), {@code id}, {@code irq_pin},
 * {@code irq} (the interrupt-line register, only when the pin is not 0), {@code qdev_id} ({@code ""}: no
 * {@code id=} here) and {@code regions}: each declared BAR once (a 64-bit BAR at its lower register), with the
 * address it decodes at by QEMU's rules ({@link PciConfigSpace#barAddress}) or -1 when it does not decode, as
 * QEMU's {@code PCI_BAR_UNMAPPED}. Without a PCI bus ({@code -M microvm} without {@code pcie=on}) QEMU answers an
 * empty list, and so does this.
 *
 * <p>Stateless; {@link #of} reads each function's configuration space under its lock, so it may run on the QMP
 * thread while vCPUs run (a reply is a snapshot per function).
 */
public final class PciQuery {
    /**
     * QEMU's {@code pci_class_descriptions}: the 16-bit class (base class and subclass) to its {@code desc}; a
     * class not listed has none (edu's 0x00ff, for one).
     */
    private static final Map<Integer, String> CLASS_DESCRIPTIONS = Map.ofEntries(
            Map.entry(0x0001, "VGA controller"), Map.entry(0x0100, "SCSI controller"),
            Map.entry(0x0101, "IDE controller"), Map.entry(0x0102, "Floppy controller"),
            Map.entry(0x0103, "IPI controller"), Map.entry(0x0104, "RAID controller"),
            Map.entry(0x0106, "SATA controller"), Map.entry(0x0107, "SAS controller"),
            Map.entry(0x0180, "Storage controller"), Map.entry(0x0200, "Ethernet controller"),
            Map.entry(0x0201, "Token Ring controller"), Map.entry(0x0202, "FDDI controller"),
            Map.entry(0x0203, "ATM controller"), Map.entry(0x0280, "Network controller"),
            Map.entry(0x0300, "VGA controller"), Map.entry(0x0301, "XGA controller"),
            Map.entry(0x0302, "3D controller"), Map.entry(0x0380, "Display controller"),
            Map.entry(0x0400, "Video controller"), Map.entry(0x0401, "Audio controller"),
            Map.entry(0x0402, "Phone"), Map.entry(0x0403, "Audio controller"),
            Map.entry(0x0480, "Multimedia controller"), Map.entry(0x0500, "RAM controller"),
            Map.entry(0x0501, "Flash controller"), Map.entry(0x0580, "Memory controller"),
            Map.entry(0x0600, "Host bridge"), Map.entry(0x0601, "ISA bridge"),
            Map.entry(0x0602, "EISA bridge"), Map.entry(0x0603, "MC bridge"),
            Map.entry(0x0604, "PCI bridge"), Map.entry(0x0605, "PCMCIA bridge"),
            Map.entry(0x0606, "NUBUS bridge"), Map.entry(0x0607, "CARDBUS bridge"),
            Map.entry(0x0608, "RACEWAY bridge"), Map.entry(0x0680, "Bridge"),
            Map.entry(0x0700, "Serial port"), Map.entry(0x0701, "Parallel port"),
            Map.entry(0x0800, "Interrupt controller"), Map.entry(0x0801, "DMA controller"),
            Map.entry(0x0802, "Timer"), Map.entry(0x0803, "RTC"),
            Map.entry(0x0900, "Keyboard"), Map.entry(0x0901, "Pen"), Map.entry(0x0902, "Mouse"),
            Map.entry(0x0a00, "Dock station"), Map.entry(0x0b00, "i386 cpu"),
            Map.entry(0x0c00, "Firewire controller"), Map.entry(0x0c01, "Access bus controller"),
            Map.entry(0x0c02, "SSA controller"), Map.entry(0x0c03, "USB controller"),
            Map.entry(0x0c04, "Fibre channel controller"), Map.entry(0x0c05, "SMBus"));

    private PciQuery() {
    }

    /** The reply for {@code bus} (bus 0 of the machine's host bridge), or for no PCI bus when it is null. */
    public static ArrayNode of(PciBus bus) {
        JsonNodeFactory json = JsonNodeFactory.instance;
        ArrayNode buses = json.arrayNode();
        if (bus == null) {
            return buses;
        }
        ObjectNode b = buses.addObject();
        b.put("bus", 0);
        ArrayNode devices = b.putArray("devices");
        for (int devfn = 0; devfn < Pci.DEVFNS; devfn++) {
            PciFunction f = bus.function(devfn);
            if (f != null) {
                device(devices.addObject(), devfn, f.config());
            }
        }
        return buses;
    }

    private static void device(ObjectNode d, int devfn, PciConfigSpace c) {
        d.put("bus", 0);
        d.put("slot", devfn >>> 3);
        d.put("function", devfn & 7);
        int cls = c.read(Pci.CLASS_PROG + 1, 2);
        ObjectNode classInfo = d.putObject("class_info");
        String desc = CLASS_DESCRIPTIONS.get(cls);
        if (desc != null) {
            classInfo.put("desc", desc);
        }
        classInfo.put("class", cls);
        d.putObject("id")
                .put("device", c.read(Pci.DEVICE_ID, 2))
                .put("vendor", c.read(Pci.VENDOR_ID, 2))
                .put("subsystem", c.read(Pci.SUBSYSTEM_ID, 2))
                .put("subsystem-vendor", c.read(Pci.SUBSYSTEM_VENDOR_ID, 2));
        int pin = c.read(Pci.INTERRUPT_PIN, 1);
        if (pin != 0) {
            d.put("irq", c.read(Pci.INTERRUPT_LINE, 1));
        }
        d.put("irq_pin", pin);
        d.put("qdev_id", "");
        ArrayNode regions = d.putArray("regions");
        for (int i = 0; i < Pci.BARS; i++) {
            PciBar bar = c.bar(i);
            if (bar == null) {
                continue;
            }
            ObjectNode r = regions.addObject();
            r.put("bar", i);
            r.put("type", bar.kind() == PciBar.Kind.IO ? "io" : "memory");
            r.put("address", c.barAddress(i));
            r.put("size", bar.size());
            if (bar.kind() != PciBar.Kind.IO) {
                r.put("prefetch", bar.prefetchable());
                r.put("mem_type_64", bar.kind() == PciBar.Kind.MEMORY64);
            }
        }
    }
}
