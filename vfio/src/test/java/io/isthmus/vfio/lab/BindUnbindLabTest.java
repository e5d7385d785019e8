package io.isthmus.vfio.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.vfio.VfioContainer;
import io.isthmus.vfio.cli.VfioMain;
import io.isthmus.vfio.pci.PciDevice;
import io.isthmus.vfio.pci.SysfsPci;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code isthmus vfio bind} and {@code unbind} (the CLI's entry, in process) on the lab's non-viable IOMMU group:
 * its second edu (bound to vfio-pci by the lab), the PCI bridge it sits behind (no driver) and an e1000 (driven by
 * e1000). The test leaves the group as it found it.
 */
@Tag("lab")
class BindUnbindLabTest {
    record Cli(int rc, String out, String err) {}

    static Cli cli(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = VfioMain.run(new PrintWriter(out), new PrintWriter(err), args);
        return new Cli(rc, out.toString(), err.toString());
    }

    @Test
    void bindAndUnbindSetAndClearDriverOverrideRestoreTheDriverAndRefuseANonViableGroup() throws Exception {
        int group = DriverPathLabTest.nonViableGroup();
        SysfsPci sysfs = SysfsPci.system();
        List<PciDevice> members = sysfs.groupMembers(group).stream().map(sysfs::require).toList();
        String edu = members.stream().filter(d -> d.vendor() == Edu.VENDOR && d.device() == Edu.DEVICE)
                .findFirst().orElseThrow(() -> new AssertionError("no edu in group " + group)).address().toString();
        String nic = members.stream().filter(d -> d.driver().filter("e1000"::equals).isPresent()).findFirst()
                .orElseThrow(() -> new AssertionError("no e1000 in group " + group + ": " + sysfs.describeGroup(group)))
                .address().toString();
        assertEquals("vfio-pci", driver(edu), "the lab binds its second edu to vfio-pci");
        try {
            // Already on vfio-pci, but its group holds a device the kernel drives: refused, nothing changed.
            Cli r = cli("bind", edu);
            assertEquals(1, r.rc(), r.toString());
            assertTrue(r.err().contains("IOMMU group " + group + " of " + edu + " would not be viable")
                    && r.err().contains(nic + " (e1000)") && r.err().contains("nothing was changed"), r.err());

            // unbind: vfio-pci lets go, driver_override is cleared; edu has no kernel driver, so it stays free.
            r = cli("unbind", edu);
            assertEquals(0, r.rc(), r.toString());
            assertEquals(edu + " unbound from vfio-pci; now without driver\n", r.out());
            assertEquals("", driver(edu));
            assertEquals("(null)", override(edu));

            // bind alone: refused before any sysfs write, naming the device to bind with it.
            r = cli("bind", edu);
            assertEquals(1, r.rc(), r.toString());
            assertTrue(r.err().contains("isthmus vfio bind " + edu + " " + nic), r.err());
            assertEquals("", driver(edu), "a refused bind changes nothing");
            assertEquals("(null)", override(edu));
            assertEquals("e1000", driver(nic));

            // bind both: the override is set on each, both drive vfio-pci, and the kernel finds the group viable.
            r = cli("bind", edu, nic);
            assertEquals(0, r.rc(), r.toString());
            assertTrue(r.out().contains(edu + " bound to vfio-pci (was no driver); IOMMU group " + group)
                    && r.out().contains(nic + " bound to vfio-pci (was e1000)"), r.out());
            for (String d : List.of(edu, nic)) {
                assertEquals("vfio-pci", driver(d), d);
                assertEquals("vfio-pci", override(d), d);
            }
            try (VfioContainer c = VfioContainer.open()) {
                assertTrue(c.group(group).status().viable(), "the kernel agrees: group " + group + " is viable");
            }

            // unbind the NIC: the override is cleared and its original driver, e1000, is back.
            r = cli("unbind", nic);
            assertEquals(0, r.rc(), r.toString());
            assertEquals(nic + " unbound from vfio-pci; now bound to e1000\n", r.out());
            assertEquals("e1000", driver(nic));
            assertEquals("(null)", override(nic));
            assertEquals("vfio-pci", driver(edu), "the edu stays bound");
        } finally {
            restore(edu, nic);
        }
        assertEquals("vfio-pci", driver(edu));
        assertEquals("e1000", driver(nic));
    }

    /** The lab's state (edu on vfio-pci, the NIC on e1000) with raw sysfs writes, as the lab's /init makes it. */
    private static void restore(String edu, String nic) throws IOException {
        if (!driver(nic).equals("e1000")) {
            SysfsPci.system().releaseFromVfio(io.isthmus.vfio.PciAddress.parse(nic));
        }
        if (!driver(edu).equals("vfio-pci")) {
            Path dev = device(edu);
            Files.writeString(dev.resolve("driver_override"), "vfio-pci");
            if (Files.exists(dev.resolve("driver"))) {
                Files.writeString(dev.resolve("driver/unbind"), edu);
            }
            Files.writeString(Path.of("/sys/bus/pci/drivers_probe"), edu);
        }
    }

    private static Path device(String bdf) {
        return Path.of("/sys/bus/pci/devices", bdf);
    }

    private static String driver(String bdf) throws IOException {
        Path link = device(bdf).resolve("driver");
        return Files.exists(link) ? Files.readSymbolicLink(link).getFileName().toString() : "";
    }

    private static String override(String bdf) throws IOException {
        return Files.readString(device(bdf).resolve("driver_override")).strip();
    }
}
