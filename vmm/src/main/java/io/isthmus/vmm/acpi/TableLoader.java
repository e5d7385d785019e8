package io.isthmus.vmm.acpi;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The ACPI tables as QEMU hands them to its firmware through fw_cfg: the files {@value #TABLES_FILE} (every table
 * but the RSDP, in {@link AcpiTables}' order, each pointer to another table written as that table's offset in the
 * file and each checksum 0) and {@value #RSDP_FILE}, and the linker/loader script {@value #LOADER_FILE}
 * (QEMU's {@code hw/acpi/bios-linker-loader.c}) that tells the firmware to allocate them (the RSDP in the BIOS
 * F-segment, aligned to 16; the tables high, aligned to 64), add their addresses to the pointers and compute the
 * checksums. The commands come in QEMU's order: the allocations first, then each table's pointers (field order)
 * and checksum, table by table, then the RSDP's checksum, XSDT pointer and extended checksum.
 *
 * <p>Derived from the tables' bytes in memory ({@link AcpiTables#blob()} at {@link AcpiTables#blobBase()}): tables
 * are found by their lengths, pointers by where each kind of table has them (FACP: FIRMWARE_CTRL, DSDT,
 * X_FIRMWARE_CTRL, X_DSDT when set; RSDT and XSDT: every entry), so the files follow whatever
 * {@link AcpiTables} builds. A firmware that runs the script ends with the tables as they are in memory here.
 *
 * <p>Immutable by convention (the arrays are not copied); thread-safe.
 *
 * @param tables the contents of {@value #TABLES_FILE}
 * @param rsdp   the contents of {@value #RSDP_FILE}
 * @param loader the contents of {@value #LOADER_FILE}: 128-byte commands
 */
public record TableLoader(byte[] tables, byte[] rsdp, byte[] loader) {
    /** The fw_cfg file names QEMU uses. */
    public static final String TABLES_FILE = "etc/acpi/tables", RSDP_FILE = "etc/acpi/rsdp",
            LOADER_FILE = "etc/table-loader";
    /** Commands. */
    static final int ALLOCATE = 1, ADD_POINTER = 2, ADD_CHECKSUM = 3;
    /** Allocation zones: anywhere high, the BIOS F-segment. */
    static final int ZONE_HIGH = 1, ZONE_FSEG = 2;
    private static final int COMMAND_SIZE = 128, FILE_NAME = 56, HEADER = 36;

    /** The fw_cfg files for {@code acpi}. */
    public static TableLoader of(AcpiTables acpi) {
        byte[] blob = acpi.blob();
        long base = acpi.blobBase();
        byte[] tables = blob.clone();
        ByteBuffer t = ByteBuffer.wrap(tables).order(ByteOrder.LITTLE_ENDIAN);
        ByteArrayOutputStream script = new ByteArrayOutputStream();
        allocate(script, RSDP_FILE, 16, ZONE_FSEG);
        allocate(script, TABLES_FILE, 64, ZONE_HIGH);
        for (int at = 0; at < tables.length; ) {
            if (tables.length - at < HEADER) {
                throw new IllegalStateException("ACPI blob: " + (tables.length - at) + " bytes at offset " + at
                        + " are too short for a table header");
            }
            String sig = new String(tables, at, 4, StandardCharsets.US_ASCII);
            int length = t.getInt(at + 4);
            if (length < HEADER || length > tables.length - at) {
                throw new IllegalStateException("ACPI blob: table " + sig + " at offset " + at + " has length "
                        + length + ", outside the blob's " + tables.length + " bytes");
            }
            switch (sig) {
                case "FACP" -> {
                    pointer(script, t, TABLES_FILE, at + 36, 4, base, tables.length);
                    pointer(script, t, TABLES_FILE, at + 40, 4, base, tables.length);
                    if (length >= 148) {
                        pointer(script, t, TABLES_FILE, at + 132, 8, base, tables.length);
                        pointer(script, t, TABLES_FILE, at + 140, 8, base, tables.length);
                    }
                }
                case "RSDT" -> {
                    for (int e = at + HEADER; e + 4 <= at + length; e += 4) {
                        pointer(script, t, TABLES_FILE, e, 4, base, tables.length);
                    }
                }
                case "XSDT" -> {
                    for (int e = at + HEADER; e + 8 <= at + length; e += 8) {
                        pointer(script, t, TABLES_FILE, e, 8, base, tables.length);
                    }
                }
                default -> { }
            }
            tables[at + 9] = 0;
            checksum(script, TABLES_FILE, at + 9, at, length);
            at += length;
        }
        byte[] rsdp = acpi.rsdp().clone();
        ByteBuffer r = ByteBuffer.wrap(rsdp).order(ByteOrder.LITTLE_ENDIAN);
        rsdp[8] = 0;
        rsdp[32] = 0;
        pointer(script, r, RSDP_FILE, 16, 4, base, tables.length);
        checksum(script, RSDP_FILE, 8, 0, 20);
        pointer(script, r, RSDP_FILE, 24, 8, base, tables.length);
        checksum(script, RSDP_FILE, 32, 0, 36);
        // The allocations were written first; QEMU prepends them, RSDP's last (so first): the same order.
        return new TableLoader(tables, rsdp, script.toByteArray());
    }

    /**
     * When the pointer of {@code size} bytes at {@code at} in {@code file} (named {@code fileName}) is set, turns it
     * into an offset into the tables file and adds the command that makes it an address again.
     */
    private static void pointer(ByteArrayOutputStream script, ByteBuffer file, String fileName, int at, int size,
                                long base, int tablesLength) {
        long value = size == 4 ? Integer.toUnsignedLong(file.getInt(at)) : file.getLong(at);
        if (value == 0) {
            return;
        }
        long offset = value - base;
        if (offset < 0 || offset >= tablesLength) {
            throw new IllegalStateException(String.format("ACPI pointer 0x%x at offset %d of %s is not in the %d"
                    + " bytes of tables at 0x%x", value, at, fileName, tablesLength, base));
        }
        if (size == 4) {
            file.putInt(at, (int) offset);
        } else {
            file.putLong(at, offset);
        }
        ByteBuffer c = command(ADD_POINTER);
        name(c, 4, fileName);
        name(c, 4 + FILE_NAME, TABLES_FILE);
        c.putInt(4 + 2 * FILE_NAME, at).put(8 + 2 * FILE_NAME, (byte) size);
        script.writeBytes(c.array());
    }

    private static void allocate(ByteArrayOutputStream script, String file, int align, int zone) {
        ByteBuffer c = command(ALLOCATE);
        name(c, 4, file);
        c.putInt(4 + FILE_NAME, align).put(8 + FILE_NAME, (byte) zone);
        script.writeBytes(c.array());
    }

    private static void checksum(ByteArrayOutputStream script, String file, int at, int start, int length) {
        ByteBuffer c = command(ADD_CHECKSUM);
        name(c, 4, file);
        c.putInt(4 + FILE_NAME, at).putInt(8 + FILE_NAME, start).putInt(12 + FILE_NAME, length);
        script.writeBytes(c.array());
    }

    private static ByteBuffer command(int type) {
        return ByteBuffer.allocate(COMMAND_SIZE).order(ByteOrder.LITTLE_ENDIAN).putInt(0, type);
    }

    private static void name(ByteBuffer c, int at, String file) {
        c.put(at, file.getBytes(StandardCharsets.US_ASCII));
    }
}
