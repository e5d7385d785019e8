package io.isthmus.vfio.pci;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * A PCI function's configuration space (64, 256 or 4096 bytes) and a parser for its header and capability
 * lists. The same code decodes a sysfs {@code config} file, a VFIO config region and an {@code lspci -x} dump.
 *
 * <p>Every walk is bounded (at most 48 standard and 480 extended entries, offsets checked against the size
 * read), so a malformed or hostile config space yields a shorter list, never a loop or an exception.
 *
 * <p>Immutable (holds a private copy); thread-safe.
 */
public final class ConfigSpace {
    private final byte[] bytes;

    private ConfigSpace(byte[] bytes) {
        this.bytes = bytes;
    }

    /** Wraps a copy of {@code bytes}; at least the 64-byte header is required. */
    public static ConfigSpace of(byte[] bytes) {
        if (bytes.length < 64) {
            throw new IllegalArgumentException("PCI config space needs at least 64 bytes (the header), got "
                    + bytes.length + "; reading sysfs config as a non-root user also gives only 64");
        }
        return new ConfigSpace(bytes.clone());
    }

    /**
     * Parses a dump in {@code lspci -x}/{@code -xxx}/{@code -xxxx} form: lines {@code "OFF: b0 b1 … b15"};
     * other lines (the device title) are ignored.
     */
    public static ConfigSpace parseLspciHex(String text) {
        byte[] out = new byte[4096];
        int max = 0;
        for (String line : text.split("\n")) {
            int colon = line.indexOf(':');
            if (colon < 1 || colon > 4 || !line.substring(0, colon).chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                continue;
            }
            String[] parts = line.substring(colon + 1).trim().split("\\s+");
            if (parts.length == 0 || parts[0].length() != 2) {
                continue;
            }
            int off = Integer.parseInt(line.substring(0, colon), 16);
            for (int i = 0; i < parts.length && off + i < out.length; i++) {
                out[off + i] = (byte) Integer.parseInt(parts[i], 16);
            }
            max = Math.max(max, off + parts.length);
        }
        return of(Arrays.copyOf(out, max));
    }

    /** This config space in {@code lspci -xxxx} form under a title line, as {@code lspci -F} reads it. */
    public String toLspciHex(String title) {
        StringBuilder sb = new StringBuilder(title).append('\n');
        HexFormat hex = HexFormat.of();
        for (int off = 0; off < bytes.length; off += 16) {
            sb.append(String.format(off < 0x100 ? "%02x:" : "%03x:", off));
            for (int i = off; i < Math.min(off + 16, bytes.length); i++) {
                sb.append(' ').append(hex.toHexDigits(bytes[i]));
            }
            sb.append('\n');
        }
        return sb.append('\n').toString();
    }

    public int size() {
        return bytes.length;
    }

    public byte[] bytes() {
        return bytes.clone();
    }

    public int u8(int off) {
        return off < bytes.length ? bytes[off] & 0xff : 0xff;
    }

    public int u16(int off) {
        return u8(off) | u8(off + 1) << 8;
    }

    public int u32(int off) {
        return u16(off) | u16(off + 2) << 16;
    }

    public int vendorId() { return u16(0x00); }
    public int deviceId() { return u16(0x02); }
    public int command() { return u16(0x04); }
    public int status() { return u16(0x06); }
    public int revision() { return u8(0x08); }
    /** The 24-bit class code: base class, subclass, programming interface. */
    public int classCode() { return u32(0x08) >>> 8; }
    /** The header type without the multi-function bit: 0 endpoint, 1 PCI bridge, 2 CardBus bridge. */
    public int headerType() { return u8(0x0e) & 0x7f; }
    public boolean multiFunction() { return (u8(0x0e) & 0x80) != 0; }
    public int interruptPin() { return u8(0x3d); }
    public int subsystemVendorId() { return headerType() == 0 ? u16(0x2c) : 0; }
    public int subsystemId() { return headerType() == 0 ? u16(0x2e) : 0; }

    /** A BAR as the header encodes it (not its size: sizing needs writes, which sysfs resource gives instead). */
    public record Bar(int index, long address, boolean io, boolean is64bit, boolean prefetchable) {}

    /** The BARs the header declares (6 for endpoints, 2 for bridges); the upper half of a 64-bit BAR is folded in. */
    public List<Bar> bars() {
        int n = headerType() == 0 ? 6 : headerType() == 1 ? 2 : 0;
        List<Bar> bars = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int v = u32(0x10 + 4 * i);
            if ((v & 1) != 0) {
                bars.add(new Bar(i, v & 0xfffffffcL, true, false, false));
            } else {
                boolean is64 = ((v >> 1) & 3) == 2;
                long addr = v & 0xfffffff0L;
                if (is64 && i + 1 < n) {
                    addr |= (long) u32(0x10 + 4 * (i + 1)) << 32;
                }
                bars.add(new Bar(i, addr, false, is64, (v & 8) != 0));
                if (is64) {
                    i++;
                }
            }
        }
        return bars;
    }

    /** Standard capabilities (status bit 4 set; list from 0x34, or 0x14 for CardBus), then extended ones. */
    public List<PciCapability> capabilities() {
        List<PciCapability> caps = new ArrayList<>(standardCapabilities());
        caps.addAll(extendedCapabilities());
        return caps;
    }

    public List<PciCapability> standardCapabilities() {
        List<PciCapability> caps = new ArrayList<>();
        if ((status() & 0x10) == 0) {
            return caps;
        }
        int ptr = u8(headerType() == 2 ? 0x14 : 0x34) & 0xfc;
        boolean[] seen = new boolean[256];
        for (int n = 0; n < 48 && ptr >= 0x40 && ptr + 2 <= Math.min(bytes.length, 256) && !seen[ptr]; n++) {
            seen[ptr] = true;
            caps.add(standard(ptr, u8(ptr)));
            ptr = u8(ptr + 1) & 0xfc;
        }
        return caps;
    }

    public List<PciCapability> extendedCapabilities() {
        List<PciCapability> caps = new ArrayList<>();
        if (bytes.length <= 0x100 || pcie().isEmpty()) {
            return caps;
        }
        int ptr = 0x100;
        boolean[] seen = new boolean[4096];
        for (int n = 0; n < 480 && ptr >= 0x100 && ptr + 4 <= bytes.length && !seen[ptr]; n++) {
            seen[ptr] = true;
            int header = u32(ptr);
            if (header == 0 || header == -1) {
                break; // no extended capabilities (0) or not readable (all ones)
            }
            caps.add(extended(ptr, header & 0xffff, (header >>> 16) & 0xf));
            ptr = (header >>> 20) & 0xffc;
        }
        return caps;
    }

    /** The PCI Express capability, if any. */
    public Optional<PciCapability.PciExpress> pcie() {
        return standardCapabilities().stream().filter(c -> c instanceof PciCapability.PciExpress)
                .map(c -> (PciCapability.PciExpress) c).findFirst();
    }

    private PciCapability standard(int off, int id) {
        return switch (id) {
            case 0x01 -> new PciCapability.PowerManagement(off, u16(off + 2) & 7, u16(off + 4));
            case 0x05 -> {
                int ctl = u16(off + 2);
                yield new PciCapability.Msi(off, (ctl & 1) != 0, 1 << ((ctl >> 1) & 7), 1 << ((ctl >> 4) & 7),
                        (ctl & 0x80) != 0, (ctl & 0x100) != 0);
            }
            case 0x09 -> new PciCapability.VendorSpecific(off, u8(off + 2));
            case 0x10 -> {
                int flags = u16(off + 2);
                int type = (flags >> 4) & 0xf;
                int linkCap = u32(off + 0x0c);
                int linkSta = u16(off + 0x12);
                boolean link = type != 9 && type != 10;
                yield new PciCapability.PciExpress(off, flags & 0xf, type, (flags & 0x100) != 0, (flags >> 9) & 0x1f,
                        link ? linkCap & 0xf : 0, link ? (linkCap >> 4) & 0x3f : 0, link ? linkSta & 0xf : 0,
                        link ? (linkSta >> 4) & 0x3f : 0, link ? linkCap >>> 24 : 0);
            }
            case 0x11 -> {
                int ctl = u16(off + 2);
                int table = u32(off + 4);
                int pba = u32(off + 8);
                yield new PciCapability.MsiX(off, (ctl & 0x8000) != 0, (ctl & 0x4000) != 0, (ctl & 0x7ff) + 1,
                        table & 7, table & 0xfffffff8L, pba & 7, pba & 0xfffffff8L);
            }
            default -> new PciCapability.Other(off, id, false, 0);
        };
    }

    private PciCapability extended(int off, int id, int version) {
        return switch (id) {
            case 0x0001 -> new PciCapability.Aer(off, version, u32(off + 4), u32(off + 0x10));
            case 0x0003 -> new PciCapability.SerialNumber(off, version,
                    Integer.toUnsignedLong(u32(off + 4)) | (long) u32(off + 8) << 32);
            default -> new PciCapability.Other(off, id, true, version);
        };
    }

    /** The PCIe link speed encoding as lspci prints it (1 → {@code 2.5GT/s}). */
    public static String linkSpeed(int code) {
        return switch (code) {
            case 1 -> "2.5GT/s";
            case 2 -> "5GT/s";
            case 3 -> "8GT/s";
            case 4 -> "16GT/s";
            case 5 -> "32GT/s";
            case 6 -> "64GT/s";
            default -> "unknown";
        };
    }

    /**
     * An lspci-like rendering of the capabilities ({@code Capabilities: [40] MSI: Enable- Count=1/1 …}), with
     * the key fields of the ones decoded here, one per line, each indented by {@code indent}.
     */
    public List<String> renderCapabilities(String indent) {
        List<String> out = new ArrayList<>();
        for (PciCapability c : capabilities()) {
            String at = c.extended() ? String.format("[%x v%d] ", c.offset(), version(c)) : String.format("[%x] ", c.offset());
            String line = indent + "Capabilities: " + at + switch (c) {
                case PciCapability.PowerManagement pm -> "Power Management version " + pm.version() + ", D"
                        + pm.powerState();
                case PciCapability.Msi m -> String.format("MSI: Enable%s Count=%d/%d Maskable%s 64bit%s",
                        pm(m.enabled()), m.vectorsEnabled(), m.vectorsCapable(), pm(m.maskable()), pm(m.is64bit()));
                case PciCapability.MsiX x -> String.format("MSI-X: Enable%s Count=%d Masked%s%n%s\tVector table: BAR=%d"
                        + " offset=%08x%n%s\tPBA: BAR=%d offset=%08x", pm(x.enabled()), x.tableSize(), pm(x.masked()),
                        indent, x.tableBar(), x.tableOffset(), indent, x.pbaBar(), x.pbaOffset());
                case PciCapability.PciExpress e -> String.format("Express (v%d) %s%s, MSI %02x", e.version(), e.typeName(),
                        e.type() >= 4 && e.type() <= 6 && e.type() != 5 ? " (Slot" + pm(e.slot()) + ")" : "",
                        e.interruptMessage()) + (e.hasLink() ? String.format(
                        "%n%s\tLnkCap: Port #%d, Speed %s, Width x%d%n%s\tLnkSta: Speed %s, Width x%d", indent, e.port(),
                        linkSpeed(e.linkCapSpeed()), e.linkCapWidth(), indent, linkSpeed(e.linkStaSpeed()),
                        e.linkStaWidth()) : "");
                case PciCapability.VendorSpecific v -> "Vendor Specific Information: Len=" + String.format("%02x", v.length());
                case PciCapability.Aer a -> String.format("Advanced Error Reporting%n%s\tUESta: %08x CESta: %08x", indent,
                        a.uncorrectableStatus(), a.correctableStatus());
                case PciCapability.SerialNumber s -> "Device Serial Number " + serial(s.serial());
                case PciCapability.Other o -> o.name();
            };
            out.add(line);
        }
        return out;
    }

    private static int version(PciCapability c) {
        return switch (c) {
            case PciCapability.Aer a -> a.version();
            case PciCapability.SerialNumber s -> s.version();
            case PciCapability.Other o -> o.version();
            default -> 0;
        };
    }

    private static String pm(boolean b) {
        return b ? "+" : "-";
    }

    /** The serial in lspci's form, {@code 52-54-00-ff-ff-12-34-56} (most significant byte first). */
    public static String serial(long serial) {
        StringBuilder sb = new StringBuilder();
        for (int i = 7; i >= 0; i--) {
            sb.append(String.format("%02x", (serial >>> (8 * i)) & 0xff));
            if (i > 0) {
                sb.append('-');
            }
        }
        return sb.toString();
    }
}
