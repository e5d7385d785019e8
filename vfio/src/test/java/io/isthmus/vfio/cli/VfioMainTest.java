package io.isthmus.vfio.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.vfio.pci.SysfsPci;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The CLI on this machine's real /sys (read-only commands) and its error handling. */
class VfioMainTest {
    record Result(int rc, String out, String err) {}

    static Result run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = VfioMain.run(new PrintWriter(out), new PrintWriter(err), args);
        return new Result(rc, out.toString(), err.toString());
    }

    @Test
    void listShowsEveryRealDeviceWithGroupAndDriver() throws Exception {
        Result r = run("list");
        assertEquals(0, r.rc(), r.err());
        for (var d : SysfsPci.system().devices()) {
            String line = r.out().lines().filter(l -> l.startsWith(d.address().toString())).findFirst().orElseThrow();
            assertTrue(line.contains(String.format("%04x:%04x", d.vendor(), d.device())), line);
            assertTrue(line.endsWith(d.driver().orElse("-")), line);
        }
    }

    @Test
    void infoOnARealDeviceShowsResourcesAndCapabilitiesAndSaysItIsNotBound() throws Exception {
        var d = SysfsPci.system().devices().stream().filter(x -> !x.boundToVfio()).findFirst().orElseThrow();
        Result r = run("info", d.address().toString());
        assertEquals(0, r.rc(), r.err());
        assertTrue(r.out().startsWith(d.address().toString()), r.out());
        assertTrue(r.out().contains("not bound to vfio-pci"), r.out());
        if (Files.size(Path.of("/sys/bus/pci/devices", d.address().toString(), "config")) >= 256
                && SysfsPci.system().config(d.address()).capabilities().size() > 0) {
            assertTrue(r.out().contains("Capabilities: ["), r.out());
        }
    }

    @Test
    void errorsAreOneLineWithoutStackTraceUnlessVerbose() {
        Result r = run("info", "00:1f.7");
        assertEquals(1, r.rc());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("isthmus vfio: no PCI device 0000:00:1f.7"), r.err());
        Result bad = run("info", "not-a-bdf");
        assertEquals(1, bad.rc());
        assertTrue(bad.err().contains("expected DDDD:BB:DD.F"), bad.err());
        Result verbose = run("-d", "info", "00:1f.7");
        assertTrue(verbose.err().lines().count() > 1 && verbose.err().contains("\tat "), verbose.err());
        Result usage = run("frobnicate");
        assertEquals(2, usage.rc());
        assertFalse(usage.err().contains("\tat "));
    }

    @Test
    void syntheticTreeThroughTheSysfsOption(@org.junit.jupiter.api.io.TempDir Path root) throws Exception {
        io.isthmus.vfio.pci.SysfsPciTestSupport.edu(root);
        Result r = run("--sysfs", root.toString(), "list");
        assertEquals(0, r.rc(), r.err());
        assertTrue(r.out().contains("0000:00:02.0") && r.out().contains("1234:11e8") && r.out().contains("vfio-pci"),
                r.out());
        Result info = run("--sysfs", root.toString(), "--dev-vfio", root.resolve("no-vfio").toString(), "info",
                "00:02.0");
        assertEquals(0, info.rc(), info.err());
        assertTrue(info.out().contains("Capabilities: [40] MSI: Enable- Count=1/1 Maskable- 64bit+"), info.out());
        assertTrue(info.out().contains("IOMMU group: 3 (0000:00:02.0 (vfio-pci))"), info.out());
        assertTrue(info.out().contains("is missing; showing sysfs only"), info.out());
    }

    @Test
    void bindRefusesANonViableGroupAndUnbindRefusesADeviceNotOnVfio(@org.junit.jupiter.api.io.TempDir Path root)
            throws Exception {
        io.isthmus.vfio.pci.SysfsPciTestSupport.nonViableGroup(root);
        Result r = run("--sysfs", root.toString(), "bind", "01:01.0");
        assertEquals(1, r.rc(), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("isthmus vfio: IOMMU group 3 of 0000:01:01.0 would not be viable: it also holds"
                + " 0000:01:02.0 (e1000)"), r.err());
        assertTrue(r.err().contains("'isthmus vfio bind 0000:01:01.0 0000:01:02.0'"), r.err());
        assertEquals("(null)\n", Files.readString(root.resolve("bus/pci/devices/0000:01:01.0/driver_override")));
        Result u = run("--sysfs", root.toString(), "unbind", "01:02.0");
        assertEquals(1, u.rc());
        assertTrue(u.err().contains("0000:01:02.0 is not bound to vfio-pci (driver: e1000); nothing to unbind"),
                u.err());
        assertEquals(2, run("--sysfs", root.toString(), "bind").rc(), "a BDF is required");
    }
}
