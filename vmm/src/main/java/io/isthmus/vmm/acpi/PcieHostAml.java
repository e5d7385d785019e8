package io.isthmus.vmm.acpi;

import io.isthmus.vmm.pci.PcieLayout;

import java.util.ArrayList;
import java.util.List;

/**
 * The DSDT's PCI Express host bridge ({@code \_SB.PCI0}) as QEMU 7.2 describes the GPEX host of
 * {@code -M microvm,pcie=on} (its {@code acpi_dsdt_add_gpex}): ids, the {@code _PRT} routing each slot's INTA-INTD
 * to the link devices GSI0-GSI3 (swizzled by slot), the four link devices on GSIs {@code irqBase} to
 * {@code irqBase + 3} (level, active high), {@code _CBA} (the ECAM base: microvm has no MCFG table, so this is how a
 * guest finds its configuration space), the bus range and the 32- and 64-bit MMIO windows in {@code _CRS}, the
 * {@code _OSC} that grants the OS every feature it asks for, {@code _DSM} and the {@code RES0} device reserving ECAM.
 *
 * <p>Immutable; thread-safe.
 *
 * @param ecamBase   guest-physical base of the ECAM region
 * @param ecamSize   its size (1 MiB per bus)
 * @param mmio32Base the 32-bit MMIO window
 * @param mmio32Size its size
 * @param mmio64Base the 64-bit MMIO window
 * @param mmio64Size its size (0: none)
 * @param irqBase    the GSI of INTA on slot 0 (GSI0)
 */
public record PcieHostAml(long ecamBase, long ecamSize, long mmio32Base, long mmio32Size, long mmio64Base,
                          long mmio64Size, int irqBase) {
    private static final int SLOTS = 32, PINS = 4;
    private static final String OSC_UUID = "33DB4D5B-1FF7-401C-9657-7441C03DD766";
    private static final String DSM_UUID = "E5C937D0-3553-4D7A-9117-EA4D19C3434D";

    /** The description of the host bridge laid out as {@code layout}. */
    public static PcieHostAml of(PcieLayout layout) {
        return new PcieHostAml(layout.ecamBase(), layout.ecamSize(), layout.mmio32Base(), layout.mmio32Size(),
                layout.mmio64Base(), layout.mmio64Size(), layout.irqBase());
    }

    /** {@code Device(PCI0) { ... }}. */
    public byte[] device() {
        List<byte[]> body = new ArrayList<>(List.of(
                Aml.name("_HID", Aml.string("PNP0A08")),
                Aml.name("_CID", Aml.string("PNP0A03")),
                Aml.name("_SEG", Aml.integer(0)),
                Aml.name("_BBN", Aml.integer(0)),
                Aml.name("_UID", Aml.integer(0)),
                Aml.name("_STR", Aml.unicode("PCIe 0 Device")),
                Aml.name("_CCA", Aml.integer(1)),
                Aml.name("_PRT", routingTable())));
        for (int i = 0; i < PINS; i++) {
            byte[] crs = Aml.resourceTemplate(Aml.interrupt(false, irqBase + i));
            body.add(Aml.device("GSI" + i,
                    Aml.name("_HID", Aml.string("PNP0C0F")),
                    Aml.name("_UID", Aml.integer(i)),
                    Aml.name("_PRS", crs),
                    Aml.name("_CRS", crs),
                    Aml.method("_SRS", 1, 0)));
        }
        body.add(Aml.method("_CBA", 0, 0, Aml.returnOf(Aml.integer(ecamBase))));
        int buses = (int) (ecamSize >> 20);
        List<byte[]> windows = new ArrayList<>(List.of(Aml.wordBusNumber(0, buses - 1, buses)));
        if (mmio32Size > 0) {
            windows.add(Aml.dwordMemory(mmio32Base, mmio32Size));
        }
        if (mmio64Size > 0) {
            windows.add(Aml.qwordMemory(mmio64Base, mmio64Size));
        }
        body.add(Aml.name("_CRS", Aml.resourceTemplate(windows.toArray(byte[][]::new))));
        body.add(Aml.name("SUPP", Aml.integer(0)));
        body.add(Aml.name("CTRL", Aml.integer(0)));
        body.add(osc());
        body.add(dsm());
        body.add(Aml.device("RES0",
                Aml.name("_HID", Aml.string("PNP0C02")),
                Aml.name("_CRS", Aml.resourceTemplate(Aml.qwordMemory(ecamBase, ecamSize)))));
        return Aml.device("PCI0", body.toArray(byte[][]::new));
    }

    /** {@code _PRT}: slot {@code s}'s pin {@code p} on link GSI{@code (s + p) % 4}, as QEMU's swizzle. */
    private static byte[] routingTable() {
        byte[][] entries = new byte[SLOTS * PINS][];
        for (int slot = 0; slot < SLOTS; slot++) {
            for (int pin = 0; pin < PINS; pin++) {
                entries[slot * PINS + pin] = Aml.packageOfTerms(Aml.integer((long) slot << 16 | 0xffff),
                        Aml.integer(pin), Aml.nameRef("GSI" + (slot + pin) % PINS), Aml.integer(0));
            }
        }
        return Aml.varPackage(entries);
    }

    /** {@code _OSC}: every control the OS asks for among the five PCIe features is granted. */
    private static byte[] osc() {
        byte[] cdw1 = Aml.nameRef("CDW1"), cdw3 = Aml.nameRef("CDW3"), ctrl = Aml.nameRef("CTRL");
        return Aml.method("_OSC", 4, 0,
                Aml.createDWordField(Aml.arg(3), Aml.integer(0), "CDW1"),
                Aml.ifThen(Aml.lEqual(Aml.arg(0), Aml.toUuid(OSC_UUID)),
                        Aml.createDWordField(Aml.arg(3), Aml.integer(4), "CDW2"),
                        Aml.createDWordField(Aml.arg(3), Aml.integer(8), "CDW3"),
                        Aml.store(Aml.nameRef("CDW2"), Aml.nameRef("SUPP")),
                        Aml.store(cdw3, ctrl),
                        Aml.and(ctrl, Aml.integer(0x1f), ctrl),
                        Aml.ifThen(Aml.lNot(Aml.lEqual(Aml.arg(1), Aml.integer(1))),
                                Aml.or(cdw1, Aml.integer(0x08), cdw1)),
                        Aml.ifThen(Aml.lNot(Aml.lEqual(cdw3, ctrl)),
                                Aml.or(cdw1, Aml.integer(0x10), cdw1)),
                        Aml.store(ctrl, cdw3),
                        Aml.returnOf(Aml.arg(3))),
                Aml.elseDo(
                        Aml.or(cdw1, Aml.integer(0x04), cdw1),
                        Aml.returnOf(Aml.arg(3))));
    }

    /** {@code _DSM}: PCI slot information, function 0 only (QEMU 7.2 offers no function 5). */
    private static byte[] dsm() {
        return Aml.method("_DSM", 4, 0,
                Aml.ifThen(Aml.lEqual(Aml.arg(0), Aml.toUuid(DSM_UUID)),
                        Aml.ifThen(Aml.lEqual(Aml.arg(2), Aml.integer(0)),
                                Aml.returnOf(Aml.buffer((byte) 0x01)))),
                Aml.returnOf(Aml.buffer((byte) 0x00)));
    }
}
