package io.isthmus.vmm.acpi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The ACPI files fw_cfg serves against QEMU 7.2's for the same machine, byte for byte (src/test/resources/fwcfg:
 * what the firmware test guest read under QEMU microvm), and the linker/loader script run as a firmware runs it.
 */
class TableLoaderTest {

    static byte[] qemu(String config, String file) throws IOException {
        try (InputStream in = TableLoaderTest.class.getResourceAsStream("/fwcfg/qemu-7.2-" + config + "-"
                + file.replace('/', '-') + ".hex")) {
            return HexFormat.of().parseHex(new String(in.readAllBytes()).replaceAll("\\s+", ""));
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"microvm, 1", "microvm-5G-smp3, 3"})
    void sameFilesAsQemu(String config, int cpus) throws IOException {
        TableLoader f = TableLoader.of(AcpiTables.build(cpus, List.of()));
        HexFormat h = HexFormat.of();
        assertEquals(h.formatHex(qemu(config, TableLoader.TABLES_FILE)), h.formatHex(f.tables()));
        assertEquals(h.formatHex(qemu(config, TableLoader.RSDP_FILE)), h.formatHex(f.rsdp()));
        assertEquals(h.formatHex(qemu(config, TableLoader.LOADER_FILE)), h.formatHex(f.loader()));
    }

    /**
     * Runs the script as QEMU's firmware does, allocating the files where qboot puts them: the result is the tables
     * as this VMM writes them to memory (so a firmware that loads the tables itself gets what the guest gets here).
     */
    @ParameterizedTest(name = "cpus={0} virtio={1}")
    @CsvSource({"1, false", "3, true", "16, true"})
    void theScriptRebuildsTheTablesInMemory(int cpus, boolean virtio) {
        AcpiTables acpi = AcpiTables.build(cpus, virtio ? List.of(new AcpiTables.VirtioTransport(23, 0xfeb02e00L, 47),
                new AcpiTables.VirtioTransport(22, 0xfeb02c00L, 46)) : List.of());
        TableLoader f = TableLoader.of(acpi);
        Map<String, byte[]> files = new HashMap<>(Map.of(TableLoader.TABLES_FILE, f.tables().clone(),
                TableLoader.RSDP_FILE, f.rsdp().clone()));
        Map<String, Long> where = new HashMap<>();
        ByteBuffer s = ByteBuffer.wrap(f.loader()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0, f.loader().length % 128);
        for (int at = 0; at < f.loader().length; at += 128) {
            String file = name(f.loader(), at + 4);
            switch (s.getInt(at)) {
                case TableLoader.ALLOCATE -> {
                    int align = s.getInt(at + 60), zone = f.loader()[at + 64];
                    long addr = zone == TableLoader.ZONE_FSEG ? AcpiTables.RSDP_ADDRESS : acpi.blobBase();
                    assertEquals(0, addr % align, file + " aligned");
                    assertEquals(file.equals(TableLoader.RSDP_FILE) ? TableLoader.ZONE_FSEG : TableLoader.ZONE_HIGH,
                            zone);
                    where.put(file, addr);
                }
                case TableLoader.ADD_POINTER -> {
                    String src = name(f.loader(), at + 60);
                    int offset = s.getInt(at + 116), size = f.loader()[at + 120];
                    ByteBuffer d = ByteBuffer.wrap(files.get(file)).order(ByteOrder.LITTLE_ENDIAN);
                    if (size == 4) {
                        d.putInt(offset, (int) (d.getInt(offset) + where.get(src)));
                    } else {
                        assertEquals(8, size);
                        d.putLong(offset, d.getLong(offset) + where.get(src));
                    }
                }
                case TableLoader.ADD_CHECKSUM -> {
                    int offset = s.getInt(at + 60), start = s.getInt(at + 64), length = s.getInt(at + 68);
                    byte[] b = files.get(file);
                    int sum = 0;
                    for (int i = start; i < start + length; i++) {
                        sum += b[i];
                    }
                    b[offset] = (byte) (b[offset] - sum);
                }
                default -> throw new AssertionError("unknown command " + s.getInt(at) + " at " + at);
            }
        }
        assertEquals(Map.of(TableLoader.RSDP_FILE, AcpiTables.RSDP_ADDRESS, TableLoader.TABLES_FILE, acpi.blobBase()),
                where);
        assertArrayEquals(acpi.blob(), files.get(TableLoader.TABLES_FILE));
        assertArrayEquals(acpi.rsdp(), files.get(TableLoader.RSDP_FILE));
    }

    private static String name(byte[] b, int at) {
        int end = at;
        while (b[end] != 0) {
            end++;
        }
        return new String(b, at, end - at, StandardCharsets.US_ASCII);
    }

    @Test
    void aPointerOutsideTheTablesIsRefused() {
        AcpiTables acpi = AcpiTables.build(1, List.of());
        byte[] rsdp = acpi.rsdp().clone();
        ByteBuffer.wrap(rsdp).order(ByteOrder.LITTLE_ENDIAN).putLong(24, 0xfee00000L);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> TableLoader.of(new AcpiTables(acpi.blob(), acpi.blobBase(), rsdp)));
        assertEquals("ACPI pointer 0xfee00000 at offset 24 of etc/acpi/rsdp is not in the 699 bytes of tables at"
                + " 0xefd40", e.getMessage());
    }
}
