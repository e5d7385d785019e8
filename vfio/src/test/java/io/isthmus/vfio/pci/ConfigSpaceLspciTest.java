package io.isthmus.vfio.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The config-space parser against pciutils: for committed dumps (QEMU's edu, e1000e, nvme, virtio, xhci, AHCI,
 * root port and host bridge, read through qtest; the development host's virtio devices) and for every device of
 * this machine's real /sys, our bytes are written in {@code lspci -xxxx} form, {@code lspci -vvv -F} decodes
 * them, and the capabilities (offsets, ids, versions, key fields) must agree with {@link ConfigSpace}.
 */
class ConfigSpaceLspciTest {
    static Stream<String> fixtures() throws IOException {
        Path dir = Path.of("src/test/resources/pci");
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".lspci")).sorted().toList().stream();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void fixtureMatchesLspci(String name, @TempDir Path tmp) throws Exception {
        Path fixture = Path.of("src/test/resources/pci", name);
        ConfigSpace cfg = ConfigSpace.parseLspciHex(Files.readString(fixture));
        // lspci reads the committed file itself, so the hex parsing is checked too.
        List<Lspci.Cap> theirs = Lspci.capabilities(Lspci.run(fixture));
        compare(name, cfg, theirs);
        // And our own hex rendering round-trips through lspci to the same answer.
        compare(name + " (re-rendered)", cfg, Lspci.of(cfg, tmp, "roundtrip"));
        assertEquals(cfg.size(), ConfigSpace.parseLspciHex(cfg.toLspciHex("x")).size());
    }

    @Test
    void fixturesCoverTheCapabilitiesThatMatter() throws Exception {
        java.util.Set<String> seen = new java.util.TreeSet<>();
        for (String name : fixtures().toList()) {
            ConfigSpace cfg = ConfigSpace.parseLspciHex(Files.readString(Path.of("src/test/resources/pci", name)));
            cfg.capabilities().forEach(c -> seen.add(c.getClass().getSimpleName()));
        }
        assertEquals(java.util.Set.of("Aer", "Msi", "MsiX", "Other", "PciExpress", "PowerManagement", "SerialNumber",
                "VendorSpecific"), seen);
    }

    @Test
    void eduFixtureIsQemusEdu() throws Exception {
        ConfigSpace edu = ConfigSpace.parseLspciHex(Files.readString(Path.of("src/test/resources/pci/qemu-edu.lspci")));
        assertEquals(0x1234, edu.vendorId());
        assertEquals(0x11e8, edu.deviceId());
        assertEquals(0x00ff00, edu.classCode());
        PciCapability.Msi msi = (PciCapability.Msi) edu.capabilities().getFirst();
        assertEquals(0x40, msi.offset());
        assertTrue(msi.is64bit());
        assertEquals(1, msi.vectorsCapable());
    }

    @Test
    void realDevicesOfThisMachineMatchLspci(@TempDir Path tmp) throws Exception {
        SysfsPci sysfs = SysfsPci.system();
        List<PciDevice> devices = sysfs.devices();
        assertFalse(devices.isEmpty(), "this machine has a PCI bus in /sys/bus/pci/devices");
        for (PciDevice d : devices) {
            ConfigSpace cfg = sysfs.config(d.address());
            assertEquals(d.vendor(), cfg.vendorId(), d.address() + " vendor: sysfs file vs config space");
            assertEquals(d.device(), cfg.deviceId(), d.address() + " device id");
            if (cfg.size() >= 256) { // as root; a user reads only the 64-byte header
                compare(d.address().toString(), cfg, Lspci.of(cfg, tmp, d.address().toString().replace(':', '_')));
            }
        }
    }

    private static final Pattern MSI = Pattern.compile("MSI: Enable([+-]) Count=(\\d+)/(\\d+) Maskable([+-]) 64bit([+-])");
    private static final Pattern MSIX = Pattern.compile("MSI-X: Enable([+-]) Count=(\\d+) Masked([+-])");
    private static final Pattern TABLE = Pattern.compile("Vector table: BAR=(\\d) offset=([0-9a-f]+)");
    private static final Pattern PBA = Pattern.compile("PBA: BAR=(\\d) offset=([0-9a-f]+)");
    private static final Pattern EXP = Pattern.compile("Express \\(v(\\d+)\\) (.+?)(?: \\(Slot([+-])\\))?, MSI ([0-9a-f]+)");
    private static final Pattern LNKCAP = Pattern.compile("LnkCap:\\s+Port #(\\d+), Speed ([\\d.]+GT/s|unknown), Width x(\\d+)");
    private static final Pattern LNKSTA = Pattern.compile("LnkSta:\\s+Speed ([\\d.]+GT/s|unknown)[^,]*, Width x(\\d+)");
    private static final Pattern PM = Pattern.compile("Power Management version (\\d+)");
    private static final Pattern DSN = Pattern.compile("Device Serial Number ([0-9a-f-]+)");

    static void compare(String what, ConfigSpace cfg, List<Lspci.Cap> theirs) {
        List<PciCapability> ours = cfg.capabilities();
        assertEquals(theirs.stream().map(c -> Integer.toHexString(c.offset())).toList(),
                ours.stream().map(c -> Integer.toHexString(c.offset())).toList(), what + ": capability offsets");
        for (int i = 0; i < ours.size(); i++) {
            PciCapability c = ours.get(i);
            Lspci.Cap t = theirs.get(i);
            String at = what + " cap [" + Integer.toHexString(c.offset()) + "] '" + t.text() + "'";
            assertTrue(t.text().startsWith(c.name()), at + ": our name '" + c.name() + "'");
            switch (c) {
                case PciCapability.Msi m -> {
                    Matcher x = find(MSI, t.all(), at);
                    assertEquals(x.group(1).equals("+"), m.enabled(), at + " enable");
                    assertEquals(Integer.parseInt(x.group(2)), m.vectorsEnabled(), at + " vectors enabled");
                    assertEquals(Integer.parseInt(x.group(3)), m.vectorsCapable(), at + " vectors capable");
                    assertEquals(x.group(4).equals("+"), m.maskable(), at + " maskable");
                    assertEquals(x.group(5).equals("+"), m.is64bit(), at + " 64bit");
                }
                case PciCapability.MsiX m -> {
                    Matcher x = find(MSIX, t.all(), at);
                    assertEquals(x.group(1).equals("+"), m.enabled(), at + " enable");
                    assertEquals(Integer.parseInt(x.group(2)), m.tableSize(), at + " table size");
                    assertEquals(x.group(3).equals("+"), m.masked(), at + " masked");
                    Matcher tb = find(TABLE, t.all(), at);
                    assertEquals(Integer.parseInt(tb.group(1)), m.tableBar(), at + " table BIR");
                    assertEquals(Long.parseLong(tb.group(2), 16), m.tableOffset(), at + " table offset");
                    Matcher pb = find(PBA, t.all(), at);
                    assertEquals(Integer.parseInt(pb.group(1)), m.pbaBar(), at + " PBA BIR");
                    assertEquals(Long.parseLong(pb.group(2), 16), m.pbaOffset(), at + " PBA offset");
                }
                case PciCapability.PciExpress e -> {
                    Matcher x = find(EXP, t.all(), at);
                    assertEquals(Integer.parseInt(x.group(1)), e.version(), at + " version");
                    assertEquals(x.group(2), e.typeName(), at + " type");
                    assertEquals(Integer.parseInt(x.group(4), 16), e.interruptMessage(), at + " MSI message");
                    if (e.hasLink()) {
                        Matcher lc = find(LNKCAP, t.all(), at);
                        assertEquals(Integer.parseInt(lc.group(1)), e.port(), at + " port");
                        assertEquals(lc.group(2), ConfigSpace.linkSpeed(e.linkCapSpeed()), at + " LnkCap speed");
                        assertEquals(Integer.parseInt(lc.group(3)), e.linkCapWidth(), at + " LnkCap width");
                        Matcher ls = find(LNKSTA, t.all(), at);
                        assertEquals(ls.group(1), ConfigSpace.linkSpeed(e.linkStaSpeed()), at + " LnkSta speed");
                        assertEquals(Integer.parseInt(ls.group(2)), e.linkStaWidth(), at + " LnkSta width");
                    }
                }
                case PciCapability.PowerManagement pm ->
                        assertEquals(Integer.parseInt(find(PM, t.all(), at).group(1)), pm.version(), at + " version");
                case PciCapability.SerialNumber s -> {
                    assertEquals(find(DSN, t.all(), at).group(1), ConfigSpace.serial(s.serial()), at + " serial");
                    assertEquals(t.version(), s.version(), at + " version");
                }
                case PciCapability.Aer a -> assertEquals(t.version(), a.version(), at + " version");
                case PciCapability.Other o -> {
                    if (o.extended()) {
                        assertEquals(t.version(), o.version(), at + " version");
                    }
                }
                case PciCapability.VendorSpecific v -> assertTrue(v.length() > 0, at + " length");
            }
        }
    }

    private static Matcher find(Pattern p, String text, String at) {
        Matcher m = p.matcher(text);
        assertTrue(m.find(), at + ": lspci output lacks /" + p + "/ in:\n" + text);
        return m;
    }
}
