package io.isthmus.vmm.device;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What a {@link FwCfg} device serves: the numbered items (by selector key) and the named files, with the file
 * directory (key {@link #FILE_DIR}) laid out as QEMU lays it out: a big-endian count, then one 64-byte entry per
 * file (big-endian size, big-endian selector, two reserved bytes, the NUL-padded name), files sorted by name (QEMU's
 * order on every machine without legacy fw_cfg order, microvm included), selectors from {@link #FILE_FIRST} up in
 * that order, {@link #FILE_SLOTS} slots.
 *
 * <p>Keys are QEMU's: bit 15 ({@link #ARCH_LOCAL}) picks the architecture's own table, bit 14 (the write channel)
 * is ignored, and a key whose remaining bits reach past the last file slot selects nothing.
 *
 * <p>Built once by {@link Builder}, then immutable; thread-safe.
 */
public final class FwCfgItems {
    /** Numbered items, as QEMU's {@code include/standard-headers/linux/qemu_fw_cfg.h} names them. */
    public static final int SIGNATURE = 0x00, ID = 0x01, UUID = 0x02, RAM_SIZE = 0x03, NOGRAPHIC = 0x04,
            NB_CPUS = 0x05, KERNEL_ADDR = 0x07, KERNEL_SIZE = 0x08, KERNEL_CMDLINE = 0x09, INITRD_ADDR = 0x0a,
            INITRD_SIZE = 0x0b, BOOT_DEVICE = 0x0c, NUMA = 0x0d, BOOT_MENU = 0x0e, MAX_CPUS = 0x0f,
            KERNEL_ENTRY = 0x10, KERNEL_DATA = 0x11, INITRD_DATA = 0x12, CMDLINE_ADDR = 0x13, CMDLINE_SIZE = 0x14,
            CMDLINE_DATA = 0x15, SETUP_ADDR = 0x16, SETUP_SIZE = 0x17, SETUP_DATA = 0x18, FILE_DIR = 0x19;
    /** The architecture's own table (x86: {@code FW_CFG_IRQ0_OVERRIDE} is {@code ARCH_LOCAL + 2}). */
    public static final int ARCH_LOCAL = 0x8000, IRQ0_OVERRIDE = ARCH_LOCAL + 2, E820_TABLE = ARCH_LOCAL + 3;
    /** The first file's selector, and how many files there is room for (QEMU's default {@code x-file-slots}). */
    public static final int FILE_FIRST = 0x20, FILE_SLOTS = 0x20;
    /** One past the last valid key (without the arch and write bits). */
    public static final int MAX_ENTRY = FILE_FIRST + FILE_SLOTS;
    /** The bits of a key that name an entry. */
    static final int ENTRY_MASK = 0x3fff;
    /** A file name's room in a directory entry, its NUL included. */
    public static final int MAX_NAME = 56;
    private static final int DIR_ENTRY = 64;

    /** A file as the directory lists it: its name, selector and size. */
    public record File(String name, int select, int size) {}

    private final byte[][] generic, arch;
    private final List<File> files;

    private FwCfgItems(byte[][] generic, byte[][] arch, List<File> files) {
        this.generic = generic;
        this.arch = arch;
        this.files = files;
    }

    /** A builder with no items. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The data selected by {@code key}, or {@code null} when the key selects nothing (past the last slot) or nothing
     * was added there. Not copied: callers only read it.
     */
    byte[] data(int key) {
        int entry = key & ENTRY_MASK;
        if (entry >= MAX_ENTRY) {
            return null;
        }
        return (key & ARCH_LOCAL) != 0 ? arch[entry] : generic[entry];
    }

    /** A copy of the item at {@code key}, or {@code null}. */
    public byte[] item(int key) {
        byte[] d = data(key);
        return d == null ? null : d.clone();
    }

    /** The files, in directory order. */
    public List<File> files() {
        return files;
    }

    /** A copy of the contents of the file {@code name}, or {@code null}. */
    public byte[] file(String name) {
        for (File f : files) {
            if (f.name().equals(name)) {
                return generic[f.select()].clone();
            }
        }
        return null;
    }

    /**
     * Collects items and files, then lays out the directory. Not thread-safe; one use.
     */
    public static final class Builder {
        private final byte[][] generic = new byte[MAX_ENTRY][], arch = new byte[MAX_ENTRY][];
        private final List<String> names = new ArrayList<>();
        private final List<byte[]> contents = new ArrayList<>();

        private Builder() {}

        /** Adds the numbered item {@code key} (below {@link #FILE_FIRST}, with or without {@link #ARCH_LOCAL}). */
        public Builder item(int key, byte[] data) {
            int entry = key & ENTRY_MASK;
            if ((key & ~(ARCH_LOCAL | ENTRY_MASK)) != 0 || entry >= FILE_FIRST || key == FILE_DIR) {
                throw new IllegalArgumentException("fw_cfg key 0x" + Integer.toHexString(key) + " is not a numbered"
                        + " item (0x0-0x1f, or those with bit 15 set; 0x19 is the file directory)");
            }
            byte[][] table = (key & ARCH_LOCAL) != 0 ? arch : generic;
            if (table[entry] != null) {
                throw new IllegalArgumentException("fw_cfg key 0x" + Integer.toHexString(key) + " added twice");
            }
            table[entry] = data;
            return this;
        }

        /** Adds a little-endian 16-bit item, as QEMU's {@code fw_cfg_add_i16}. */
        public Builder i16(int key, int value) {
            return item(key, ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) value).array());
        }

        /** Adds a little-endian 32-bit item, as QEMU's {@code fw_cfg_add_i32}. */
        public Builder i32(int key, long value) {
            return item(key, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) value).array());
        }

        /** Adds a little-endian 64-bit item, as QEMU's {@code fw_cfg_add_i64}. */
        public Builder i64(int key, long value) {
            return item(key, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array());
        }

        /** Adds the file {@code name} (ASCII, at most 55 characters, not added before). */
        public Builder file(String name, byte[] data) {
            byte[] n = name.getBytes(StandardCharsets.ISO_8859_1);
            if (n.length == 0 || n.length >= MAX_NAME || !StandardCharsets.US_ASCII.newEncoder().canEncode(name)
                    || name.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("fw_cfg file name '" + name + "' must be 1 to " + (MAX_NAME - 1)
                        + " ASCII characters without NUL");
            }
            if (names.contains(name)) {
                throw new IllegalArgumentException("duplicate fw_cfg file name: " + name);
            }
            if (names.size() == FILE_SLOTS) {
                throw new IllegalArgumentException("no fw_cfg file slot left for " + name + ": all " + FILE_SLOTS
                        + " are taken");
            }
            names.add(name);
            contents.add(data);
            return this;
        }

        /** The items, with the directory of the files added. */
        public FwCfgItems build() {
            Integer[] order = new Integer[names.size()];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            // QEMU inserts by strcmp: byte order, which for ASCII is String order.
            Arrays.sort(order, (a, b) -> names.get(a).compareTo(names.get(b)));
            byte[][] g = generic.clone(), a = arch.clone();
            ByteBuffer dir = ByteBuffer.allocate(4 + DIR_ENTRY * FILE_SLOTS); // big-endian, as QEMU's
            dir.putInt(order.length);
            List<File> files = new ArrayList<>();
            for (int i = 0; i < order.length; i++) {
                String name = names.get(order[i]);
                byte[] data = contents.get(order[i]);
                int select = FILE_FIRST + i;
                g[select] = data;
                files.add(new File(name, select, data.length));
                int at = 4 + DIR_ENTRY * i;
                dir.putInt(at, data.length).putShort(at + 4, (short) select);
                dir.put(at + 8, name.getBytes(StandardCharsets.US_ASCII));
            }
            g[FILE_DIR] = order.length == 0 ? null : dir.array();
            return new FwCfgItems(g, a, List.copyOf(files));
        }
    }
}
