package io.isthmus.vmm.acpi;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The ACPI tables of the microvm machine, byte for byte as QEMU 7.2 builds them for {@code -M microvm} (its
 * {@code hw/i386/acpi-microvm.c}) and as its firmware (qboot) lays them out in guest memory: a DSDT describing the
 * fw_cfg device, COM1, the Generic Event Device with its power button, and each virtio-mmio transport that has a
 * device (and with {@code pcie=on} the PCI Express host bridge, {@link PcieHostAml}); a hardware-reduced FADT
 * (revision 5) whose sleep and reset registers are the GED's; a MADT with one local
 * APIC per vCPU, the two IOAPICs (GSI 0-23 at 0xfec00000 and 24-47 at 0xfec10000) and the LINT1 NMI; an XSDT; and a
 * revision-2 RSDP in the BIOS area, where a kernel scanning for it finds it.
 *
 * <p>Checked against QEMU's own tables, read back by a Linux guest from {@code /sys/firmware/acpi/tables} and by
 * a test guest from memory under both VMMs. Immutable once built; thread-safe.
 *
 * @param blob      the tables from {@link #BLOB_END} minus the blob's rounded size: DSDT, FACP, APIC, XSDT
 * @param blobBase  where {@code blob} goes in guest memory
 * @param rsdp      the 36-byte RSDP, which goes at {@link #RSDP_ADDRESS}
 */
public record AcpiTables(byte[] blob, long blobBase, byte[] rsdp) {
    /** Where qboot places the RSDP (its F-segment allocation, in QEMU 7.2's bios-microvm.bin). */
    public static final long RSDP_ADDRESS = 0xf34d0L;
    /** qboot allocates the tables downwards from here, the blob's size rounded up to 64 bytes. */
    public static final long BLOB_END = 0xf0000L;
    /** The microvm devices the tables describe. */
    public static final long GED_BASE = 0xfea00000L, GED_REGS = GED_BASE + 0x200, LAPIC_BASE = 0xfee00000L;
    public static final long IOAPIC_BASE = 0xfec00000L, IOAPIC2_BASE = 0xfec10000L;
    public static final int GED_GSI = 9, IOAPIC2_GSI_BASE = 24, FW_CFG_PORT = 0x510, COM1 = 0x3f8, COM1_IRQ = 4;

    private static final byte[] OEM_ID = "BOCHS ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] OEM_TABLE_ID = "BXPC    ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] CREATOR = "BXPC".getBytes(StandardCharsets.US_ASCII);

    /**
     * A virtio-mmio transport with a device plugged in, as the DSDT lists it.
     *
     * @param index the transport's number (its name is VR{@code nn})
     * @param base  its MMIO base
     * @param gsi   its interrupt (level-triggered)
     */
    public record VirtioTransport(int index, long base, int gsi) {}

    /** The tables for {@code cpus} vCPUs and the virtio transports in use, in the order the DSDT lists them. */
    public static AcpiTables build(int cpus, List<VirtioTransport> virtio) {
        return build(cpus, virtio, null);
    }

    /**
     * As {@link #build(int, List)}, with {@code -M microvm,pcie=on}'s PCI Express host bridge in the DSDT after the
     * virtio transports ({@code pcie} null: none).
     */
    public static AcpiTables build(int cpus, List<VirtioTransport> virtio, PcieHostAml pcie) {
        byte[] dsdt = dsdt(virtio, pcie);
        byte[] apic = madt(cpus);
        int facpSize = 0x10c, xsdtSize = 36 + 8 * 2;
        int size = dsdt.length + facpSize + apic.length + xsdtSize;
        long base = BLOB_END - ((size + 63) & ~63);
        long dsdtAddr = base, facpAddr = dsdtAddr + dsdt.length, apicAddr = facpAddr + facpSize;
        long xsdtAddr = apicAddr + apic.length;
        byte[] facp = fadt(dsdtAddr);
        byte[] xsdt = xsdt(facpAddr, apicAddr);
        byte[] blob = Aml.concat(dsdt, facp, apic, xsdt);
        return new AcpiTables(blob, base, rsdp(xsdtAddr));
    }

    /** The DSDT: QEMU's devices under {@code \_SB}, then {@code \_S5}. */
    static byte[] dsdt(List<VirtioTransport> virtio, PcieHostAml pcie) {
        List<byte[]> sb = new ArrayList<>();
        sb.add(Aml.device("FWCF",
                Aml.name("_HID", Aml.string("QEMU0002")),
                Aml.name("_STA", Aml.integer(0x0b)),
                Aml.name("_CRS", Aml.resourceTemplate(Aml.io(FW_CFG_PORT, FW_CFG_PORT, 1, 0x0c)))));
        sb.add(Aml.device("COM1",
                Aml.name("_HID", Aml.eisaId("PNP0501")),
                Aml.name("_UID", Aml.integer(1)),
                Aml.name("_STA", Aml.integer(0x0f)),
                Aml.name("_CRS", Aml.resourceTemplate(Aml.io(COM1, COM1, 0, 8), Aml.irqNoFlags(COM1_IRQ)))));
        sb.add(Aml.device("GED_",
                Aml.name("_HID", Aml.string("ACPI0013")),
                Aml.name("_UID", Aml.string("GED")),
                Aml.name("_CRS", Aml.resourceTemplate(Aml.interrupt(true, GED_GSI))),
                Aml.operationRegion("EREG", Aml.SYSTEM_MEMORY, GED_BASE, 4),
                // DWordAcc, NoLock, WriteAsZeros
                Aml.field("EREG", 0x43, "ESEL", 32),
                Aml.method("_EVT", 1, Aml.SERIALIZED,
                        Aml.storeToLocal0("ESEL"),
                        // ACPI_GED_PWR_DOWN_EVT
                        Aml.ifLocal0MaskEquals(2, 2, Aml.notify("PWRB", 0x80)))));
        sb.add(Aml.device("PWRB",
                Aml.name("_HID", Aml.string("PNP0C0C")),
                Aml.name("_UID", Aml.integer(0))));
        for (VirtioTransport t : virtio) {
            sb.add(Aml.device(String.format("VR%02d", t.index()),
                    Aml.name("_HID", Aml.string("LNRO0005")),
                    Aml.name("_UID", Aml.integer(t.index())),
                    Aml.name("_CCA", Aml.integer(1)),
                    Aml.name("_CRS", Aml.resourceTemplate(Aml.memory32Fixed(t.base(), 0x200),
                            Aml.interrupt(false, t.gsi())))));
        }
        if (pcie != null) {
            sb.add(pcie.device());
        }
        byte[] body = Aml.concat(Aml.scope("_SB", sb.toArray(byte[][]::new)),
                Aml.scope("\\", Aml.name("_S5", Aml.packageOf(5, 0, 0, 0))));
        return table("DSDT", 2, body);
    }

    /** The hardware-reduced FADT, revision 5: no PM blocks, the GED's sleep and reset registers. */
    static byte[] fadt(long dsdtAddr) {
        ByteBuffer b = ByteBuffer.allocate(0x10c - 36).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0x28 - 36, (int) dsdtAddr);
        b.putInt(0x70 - 36, 1 << 10 | 1 << 20); // RESET_REG_SUP | HW_REDUCED_ACPI
        gas(b, 0x74 - 36, GED_REGS + 2);         // RESET_REG
        b.put(0x80 - 36, (byte) 0x42);            // RESET_VALUE
        b.putLong(0x8c - 36, dsdtAddr);            // X_DSDT
        gas(b, 0xf4 - 36, GED_REGS);               // SLEEP_CONTROL_REG
        gas(b, 0x100 - 36, GED_REGS + 1);          // SLEEP_STATUS_REG
        return table("FACP", 5, b.array());
    }

    /** A generic address structure for an 8-bit register in system memory. */
    private static void gas(ByteBuffer b, int at, long address) {
        b.put(at, (byte) 0).put(at + 1, (byte) 8).putLong(at + 4, address);
    }

    /** The MADT: the local APIC address, PCAT_COMPAT, a local APIC per vCPU, both IOAPICs, the LINT1 NMI. */
    static byte[] madt(int cpus) {
        ByteBuffer b = ByteBuffer.allocate(8 + 8 * cpus + 12 * 2 + 6).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt((int) LAPIC_BASE).putInt(1);
        for (int i = 0; i < cpus; i++) {
            b.put((byte) 0).put((byte) 8).put((byte) i).put((byte) i).putInt(1);
        }
        b.put((byte) 1).put((byte) 12).put((byte) 0).put((byte) 0).putInt((int) IOAPIC_BASE).putInt(0);
        b.put((byte) 1).put((byte) 12).put((byte) 1).put((byte) 0).putInt((int) IOAPIC2_BASE)
                .putInt(IOAPIC2_GSI_BASE);
        b.put((byte) 4).put((byte) 6).put((byte) 0xff).putShort((short) 0).put((byte) 1);
        return table("APIC", 1, b.array());
    }

    static byte[] xsdt(long... tables) {
        ByteBuffer b = ByteBuffer.allocate(8 * tables.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long t : tables) {
            b.putLong(t);
        }
        return table("XSDT", 1, b.array());
    }

    static byte[] rsdp(long xsdtAddr) {
        ByteBuffer b = ByteBuffer.allocate(36).order(ByteOrder.LITTLE_ENDIAN);
        b.put("RSD PTR ".getBytes(StandardCharsets.US_ASCII)).put((byte) 0).put(OEM_ID).put((byte) 2).putInt(0)
                .putInt(36).putLong(xsdtAddr);
        byte[] r = b.array();
        r[8] = checksum(r, 0, 20);
        r[32] = checksum(r, 0, 36);
        return r;
    }

    /** A table: the standard header (QEMU's OEM and creator ids) before {@code body}, with its checksum. */
    static byte[] table(String signature, int revision, byte[] body) {
        ByteBuffer b = ByteBuffer.allocate(36 + body.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(signature.getBytes(StandardCharsets.US_ASCII)).putInt(36 + body.length).put((byte) revision)
                .put((byte) 0).put(OEM_ID).put(OEM_TABLE_ID).putInt(1).put(CREATOR).putInt(1).put(body);
        byte[] t = b.array();
        t[9] = checksum(t, 0, t.length);
        return t;
    }

    /** The byte that makes {@code length} bytes from {@code from} sum to zero. */
    private static byte checksum(byte[] b, int from, int length) {
        int sum = 0;
        for (int i = from; i < from + length; i++) {
            sum += b[i];
        }
        return (byte) -sum;
    }
}
