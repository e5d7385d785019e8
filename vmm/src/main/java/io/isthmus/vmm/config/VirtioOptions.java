package io.isthmus.vmm.config;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code -drive} and the virtio {@code -device}s ({@code virtio-blk-device}, {@code virtio-rng-device}), checked
 * in QEMU 7.2's order and with its messages: a drive's id while the command line is parsed; the rest of the drive
 * when QEMU creates its block backends (after parsing, before it opens the accelerator); the devices when QEMU
 * creates them (last). Drives: raw image files only, {@code if=none} (microvm's default), {@code cache=writeback},
 * {@code aio=threads}, {@code media=disk}, {@code readonly}; QEMU options beyond those are reported as not
 * supported by isthmus vmm, unknown ones as QEMU reports them.
 *
 * <p>One instance per parse; not thread-safe.
 */
final class VirtioOptions {
    /** As many devices as QEMU microvm has virtio-mmio transports. */
    static final int MAX_DEVICES = 24;

    private static final String IDENTIFIER = "Parameter 'id' expects an identifier\n"
            + "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.";
    private static final Set<String> DRIVE_KEYS = Set.of("file", "format", "if", "id", "readonly", "read-only",
            "cache", "media", "aio");
    /** -drive options QEMU 7.2 has that isthmus does not implement. */
    private static final Set<String> DRIVE_UNSUPPORTED = Set.of("bus", "unit", "index", "cyls", "heads", "secs",
            "trans", "snapshot", "copy-on-read", "werror", "rerror", "discard", "detect-zeroes", "driver",
            "node-name", "auto-read-only", "force-share", "locking", "aio-max-batch", "account-invalid",
            "account-failed", "iops", "iops_rd", "iops_wr", "iops_max", "iops_rd_max", "iops_wr_max", "iops_size",
            "bps", "bps_rd", "bps_wr", "bps_max", "bps_rd_max", "bps_wr_max", "group");
    private static final Set<String> FORMATS = Set.of("qcow2", "qcow", "qed", "vmdk", "vdi", "vhdx", "vpc", "luks",
            "parallels", "bochs", "cloop", "dmg", "vvfat", "file", "host_device", "host_cdrom", "nbd", "blkdebug",
            "null-co", "null-aio", "copy-on-read", "throttle", "compress", "preallocate", "quorum", "replication",
            "nvme", "ssh", "iscsi", "rbd", "http", "https", "ftp", "ftps", "gluster", "nfs");
    /** Properties every QEMU virtio device has, none implemented here. */
    private static final Set<String> VIRTIO_PROPERTIES = Set.of("indirect_desc", "event_idx", "notify_on_empty",
            "any_layout", "iommu_platform", "packed", "queue_reset", "use-started", "use-disabled-flag",
            "x-disable-legacy-check");
    private static final Set<String> BLK_UNSUPPORTED = Set.of("backend_defaults", "logical_block_size",
            "physical_block_size", "min_io_size", "opt_io_size", "discard_granularity", "write-cache", "share-rw",
            "account-invalid", "account-failed", "rerror", "werror", "cyls", "heads", "secs", "lcyls", "lheads",
            "lsecs", "config-wce", "scsi", "request-merging", "num-queues", "queue-size", "seg-max-adjust",
            "iothread", "discard", "report-discard-granularity", "write-zeroes", "max-discard-sectors",
            "max-write-zeroes-sectors", "x-enable-wce-if-config-wce");
    private static final Set<String> RNG_UNSUPPORTED = Set.of("rng", "max-bytes", "period");
    /** The paravirtual vGPU's driver name (isthmus's own; QEMU has none). */
    static final String VGPU = "isthmus-vgpu";
    /** A vGPU's default device-memory quota. */
    static final long VGPU_DEFAULT_MEMORY = 64L << 20;

    /** One {@code -drive}: its options as given, then (once created) its file, or null for an empty drive. */
    private static final class Drive {
        final String loc;
        final Map<String, String> opts;
        String file;
        boolean readOnly;

        Drive(String loc, Map<String, String> opts) {
            this.loc = loc;
            this.opts = opts;
        }
    }

    private final Map<String, Drive> byId = new LinkedHashMap<>();
    private final List<Drive> drives = new ArrayList<>();
    private final Set<String> used = new HashSet<>();
    private final List<VmConfig.VirtioDeviceSpec> devices = new ArrayList<>();

    /** Whether {@code driver} is a device this class handles. */
    static boolean handles(String driver) {
        return driver.equals("virtio-blk-device") || driver.equals("virtio-rng-device") || driver.equals(VGPU);
    }

    /** The device names for {@code -device help}, in QEMU's format. */
    static String help() {
        return "name \"virtio-blk-device\", bus virtio-bus\nname \"virtio-rng-device\", bus virtio-bus\n"
                + "name \"" + VGPU + "\", bus virtio-bus, desc \"isthmus paravirtual vGPU\"";
    }

    /** {@code -drive VAL} as QEMU parses it: a well-formed, unique id. */
    void drive(String loc, String val) {
        Map<String, String> o = QemuOpts.parse(val, null);
        String id = o.get("id");
        if (id != null) {
            if (!isIdentifier(id)) {
                throw new OptionException(loc, IDENTIFIER);
            }
            if (byId.containsKey(id)) {
                throw new OptionException(loc, "Duplicate ID '" + id + "' for drive");
            }
        }
        Drive d = new Drive(loc, o);
        drives.add(d);
        if (id != null) {
            byId.put(id, d);
        }
    }

    /** QEMU's {@code id_wellformed}. */
    private static boolean isIdentifier(String id) {
        if (id.isEmpty() || !isAsciiLetter(id.charAt(0))) {
            return false;
        }
        for (int i = 1; i < id.length(); i++) {
            char c = id.charAt(i);
            if (!isAsciiLetter(c) && !(c >= '0' && c <= '9') && c != '-' && c != '.' && c != '_') {
                return false;
            }
        }
        return true;
    }

    private static boolean isAsciiLetter(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }

    /** Creates the drives, in order, as QEMU's {@code drive_new} and {@code blockdev_init} check them. */
    void createDrives() {
        for (Drive d : drives) {
            create(d);
        }
    }

    private void create(Drive d) {
        String loc = d.loc;
        Map<String, String> o = d.opts;
        if (o.containsKey("readonly") && o.containsKey("read-only")) {
            throw new OptionException(loc, "'read-only' and its alias 'readonly' can't be used at the same time");
        }
        String cache = o.get("cache");
        if (cache != null) {
            switch (cache) {
                case "writeback" -> { }
                case "none", "writethrough", "directsync", "unsafe" -> throw new OptionException(loc,
                        "cache mode '" + cache + "' is not supported by isthmus vmm (only writeback)");
                default -> throw new OptionException(loc, "invalid cache option");
            }
        }
        String ro = o.containsKey("readonly") ? o.get("readonly") : o.get("read-only");
        if (ro != null) {
            Boolean b = QemuOpts.parseBool(ro);
            if (b == null) {
                throw new OptionException(loc, "Parameter 'read-only' expects 'on' or 'off'");
            }
            d.readOnly = b;
        }
        String media = o.get("media");
        if (media != null && !media.equals("disk")) {
            throw new OptionException(loc, media.equals("cdrom") ? "media=cdrom is not supported by isthmus vmm"
                    : "'" + media + "' invalid media");
        }
        String iface = o.get("if");
        if (iface != null) {
            switch (iface) {
                case "none" -> { }
                case "ide", "scsi", "floppy", "pflash", "mtd", "sd", "xen" -> throw new OptionException(loc,
                        "machine type does not support if=" + iface + ",bus=0,unit=0");
                case "virtio" -> throw new OptionException(loc, "No 'PCI' bus found for device 'virtio-blk-pci'");
                default -> throw new OptionException(loc, "unsupported bus type '" + iface + "'");
            }
        }
        String aio = o.get("aio");
        if (aio != null) {
            switch (aio) {
                case "threads" -> { }
                case "native", "io_uring" -> throw new OptionException(loc,
                        "aio=" + aio + " is not supported by isthmus vmm (only threads)");
                default -> throw new OptionException(loc, "invalid aio option");
            }
        }
        if (o.containsKey("format") && o.containsKey("driver")) {
            throw new OptionException(loc, "Cannot specify both 'driver' and 'format'");
        }
        String unknown = null;
        for (String k : o.keySet()) {
            if (DRIVE_UNSUPPORTED.contains(k) || k.startsWith("throttling.") || k.startsWith("cache.")
                    || k.startsWith("stats-") || k.startsWith("file.")) {
                throw new OptionException(loc, "-drive option '" + k + "' is not supported by isthmus vmm");
            }
            if (unknown == null && !DRIVE_KEYS.contains(k)) {
                unknown = k;
            }
        }
        String file = o.get("file");
        if (file != null && file.isEmpty()) {
            file = null;
        }
        String format = o.get("format");
        if (file == null && format == null) {
            if (unknown != null) {
                throw new OptionException(loc, "Must specify either driver or file");
            }
            return; // an empty drive, as QEMU makes one: a device on it has no medium
        }
        if (file == null) {
            throw new OptionException(loc, "A block device must be specified for \"file\"");
        }
        if (format == null) {
            throw new OptionException(loc, "no format given for '" + file + "': isthmus vmm does not probe image"
                    + " formats (add format=raw)");
        }
        if (!format.equals("raw")) {
            throw new OptionException(loc, FORMATS.contains(format)
                    ? "format '" + format + "' is not supported by isthmus vmm (only raw)"
                    : "Unknown driver '" + format + "'");
        }
        Path p;
        try {
            p = Path.of(file);
        } catch (InvalidPathException e) {
            throw new OptionException(loc, "Could not open '" + file + "': No such file or directory");
        }
        if (!Files.exists(p)) {
            throw new OptionException(loc, "Could not open '" + file + "': No such file or directory");
        }
        if (!Files.isRegularFile(p)) {
            throw new OptionException(loc, "'file' driver requires '" + file + "' to be a regular file");
        }
        if (!Files.isReadable(p) || (!d.readOnly && !Files.isWritable(p))) {
            throw new OptionException(loc, "Could not open '" + file + "': Permission denied");
        }
        if (unknown != null) {
            throw new OptionException(loc, "Block format 'raw' does not support the option '" + unknown + "'");
        }
        d.file = file;
    }

    /** {@code -device DRIVER,...} for a driver {@link #handles} accepts, as QEMU's {@code qdev_device_add}. */
    void device(String loc, String driver, Map<String, String> o) {
        if (devices.size() == MAX_DEVICES) {
            throw new OptionException(loc, "No 'virtio-bus' bus found for device '" + driver + "'");
        }
        if (driver.equals(VGPU)) {
            devices.add(vgpu(loc, o));
            return;
        }
        boolean blk = driver.equals("virtio-blk-device");
        String drive = null, serial = null;
        for (Map.Entry<String, String> e : o.entrySet()) {
            String k = e.getKey(), v = e.getValue();
            switch (k) {
                case "driver" -> { }
                case "id" -> {
                    if (!isIdentifier(v)) {
                        throw new OptionException(loc, IDENTIFIER);
                    }
                }
                case "drive" -> {
                    if (!blk) {
                        throw notFound(loc, driver, k);
                    }
                    if (v.isEmpty()) {
                        drive = null;
                    } else if (!byId.containsKey(v)) {
                        throw new OptionException(loc, "Property '" + driver + ".drive' can't find value '" + v + "'");
                    } else if (used.contains(v)) {
                        throw new OptionException(loc, "Drive '" + v + "' is already in use by another device");
                    } else {
                        drive = v;
                    }
                }
                case "serial" -> {
                    if (!blk) {
                        throw notFound(loc, driver, k);
                    }
                    serial = v;
                }
                default -> {
                    if (VIRTIO_PROPERTIES.contains(k) || (blk ? BLK_UNSUPPORTED : RNG_UNSUPPORTED).contains(k)) {
                        throw new OptionException(loc, "property '" + k + "' of " + driver
                                + " is not supported by isthmus vmm");
                    }
                    throw notFound(loc, driver, k);
                }
            }
        }
        if (!blk) {
            devices.add(new VmConfig.VirtioRngSpec());
            return;
        }
        if (drive == null) {
            throw new OptionException(loc, "drive property not set");
        }
        Drive d = byId.get(drive);
        if (d.file == null) {
            throw new OptionException(loc, "Device needs media, but drive is empty");
        }
        used.add(drive);
        devices.add(new VmConfig.VirtioBlkSpec(drive, d.file, d.readOnly, serial));
    }

    /** {@code -device isthmus-vgpu,...}: every property checked, with what to write instead. */
    private static VmConfig.VgpuSpec vgpu(String loc, Map<String, String> o) {
        String engine = "host", id = null;
        int weight = 1, cap = 100;
        long memory = VGPU_DEFAULT_MEMORY;
        for (Map.Entry<String, String> e : o.entrySet()) {
            String k = e.getKey(), v = e.getValue();
            switch (k) {
                case "driver" -> { }
                case "id" -> {
                    if (!isIdentifier(v)) {
                        throw new OptionException(loc, IDENTIFIER);
                    }
                    id = v;
                }
                case "engine" -> {
                    if (!io.isthmus.vmm.vgpu.VgpuHosts.ENGINES.contains(v)) {
                        throw new OptionException(loc, "Parameter 'engine' of " + VGPU + " expects sim, host or cuda,"
                                + " not '" + v + "'");
                    }
                    engine = v;
                }
                case "weight" -> weight = (int) number(loc, k, v, 1, io.isthmus.sched.VGpuConfig.MAX_WEIGHT);
                case "cap" -> cap = (int) number(loc, k, v, 1, 100);
                case "memory" -> {
                    memory = QemuOpts.parseSize(v, 1L << 20);
                    if (memory < 0) {
                        throw new OptionException(loc, "Parameter 'memory' of " + VGPU + " expects a size, e.g. 256M,"
                                + " not '" + v + "'");
                    }
                    if (memory < 4096 || memory > 1L << 40) {
                        throw new OptionException(loc, "Parameter 'memory' of " + VGPU + " is " + memory
                                + " bytes; use 4K to 1T, e.g. memory=256M");
                    }
                }
                default -> throw notFound(loc, VGPU, k);
            }
        }
        return new VmConfig.VgpuSpec(engine, weight, memory, cap, id);
    }

    private static long number(String loc, String key, String v, long min, long max) {
        long n;
        try {
            n = Long.parseLong(v);
        } catch (NumberFormatException ex) {
            throw new OptionException(loc, "Parameter '" + key + "' of " + VGPU + " expects a number from " + min
                    + " to " + max + ", not '" + v + "'");
        }
        if (n < min || n > max) {
            throw new OptionException(loc, "Parameter '" + key + "' of " + VGPU + " is " + n + "; use " + min + " to "
                    + max);
        }
        return n;
    }

    private static OptionException notFound(String loc, String driver, String property) {
        return new OptionException(loc, "Property '" + driver + "." + property + "' not found");
    }

    /** The devices, in command-line order. */
    List<VmConfig.VirtioDeviceSpec> devices() {
        return List.copyOf(devices);
    }
}
