package io.isthmus.vmm.acpi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The tables this VMM builds against QEMU 7.2's for the same machine, byte for byte (src/test/resources/acpi: what
 * a Linux guest read from /sys/firmware/acpi/tables under QEMU microvm), and the layout qboot gives them.
 */
class AcpiTablesTest {

    static byte[] qemu(String config, String table) throws IOException {
        try (InputStream in = AcpiTablesTest.class.getResourceAsStream("/acpi/qemu-7.2-" + config + "-" + table
                + ".hex")) {
            return HexFormat.of().parseHex(new String(in.readAllBytes()).replaceAll("\\s+", ""));
        }
    }

    /** The table with {@code signature} in the built blob, found by walking the headers' lengths. */
    static byte[] table(AcpiTables t, String signature) {
        ByteBuffer b = ByteBuffer.wrap(t.blob()).order(ByteOrder.LITTLE_ENDIAN);
        for (int at = 0; at < t.blob().length; ) {
            int length = b.getInt(at + 4);
            if (new String(t.blob(), at, 4).equals(signature)) {
                return Arrays.copyOfRange(t.blob(), at, at + length);
            }
            at += length;
        }
        throw new AssertionError("no " + signature + " in the blob");
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"microvm, 1, false", "microvm-smp2, 2, false", "microvm-virtio-blk, 1, true"})
    void sameBytesAsQemu(String config, int cpus, boolean virtioBlk) throws IOException {
        List<AcpiTables.VirtioTransport> virtio = virtioBlk
                ? List.of(new AcpiTables.VirtioTransport(23, 0xfeb02e00L, 47)) : List.of();
        AcpiTables t = AcpiTables.build(cpus, virtio);
        for (String signature : List.of("DSDT", "FACP", "APIC")) {
            assertEquals(HexFormat.of().formatHex(qemu(config, signature)),
                    HexFormat.of().formatHex(table(t, signature)), signature + " for " + config);
        }
    }

    /**
     * {@code -M microvm,pcie=on}: QEMU's GPEX host bridge with the windows it sizes for a guest with 40-bit physical
     * addresses (the lab's CPU), INTA-INTD on GSIs 16-19. The DSDT grows, so every table after it moves down: the
     * FACP's DSDT pointers show it.
     */
    @Test
    void pcieHostBridgeSameBytesAsQemu() throws IOException {
        PcieHostAml pcie = new PcieHostAml(0xe0000000L, 0x10000000L, 0xc0000000L, 0x20000000L, 0xc000000000L,
                0x4000000000L, 16);
        AcpiTables t = AcpiTables.build(1, List.of(), pcie);
        for (String signature : List.of("DSDT", "FACP", "APIC")) {
            assertEquals(HexFormat.of().formatHex(qemu("microvm-pcie", signature)),
                    HexFormat.of().formatHex(table(t, signature)), signature + " for microvm-pcie");
        }
    }

    @Test
    void laidOutAsQbootDoesWithAnRsdpPointingAtTheXsdt() {
        AcpiTables t = AcpiTables.build(1, List.of());
        // DSDT 0x129 + FACP 0x10c + APIC 0x52 + XSDT 0x34 = 0x2bb, rounded to 0x2c0 below 0xf0000: Linux printed
        // "ACPI: DSDT 0x00000000000EFD40" and "XSDT 0x00000000000EFFC7" under QEMU.
        assertEquals(0xefd40L, t.blobBase());
        ByteBuffer r = ByteBuffer.wrap(t.rsdp()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals("RSD PTR ", new String(t.rsdp(), 0, 8));
        assertEquals(0xeffc7L, r.getLong(24));
        assertEquals(2, t.rsdp()[15]);
        int sum20 = 0, sum36 = 0;
        for (int i = 0; i < 36; i++) {
            sum36 += t.rsdp()[i];
            if (i < 20) {
                sum20 += t.rsdp()[i];
            }
        }
        assertEquals(0, sum20 & 0xff, "RSDP checksum");
        assertEquals(0, sum36 & 0xff, "RSDP extended checksum");
        byte[] xsdt = table(t, "XSDT");
        ByteBuffer x = ByteBuffer.wrap(xsdt).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(List.of(0xefe69L, 0xeff75L), List.of(x.getLong(36), x.getLong(44)), "FACP, APIC");
        assertTrue(t.blobBase() + t.blob().length <= AcpiTables.BLOB_END);
    }
}
