package io.isthmus.vfio.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.vfio.cli.VfioMain;
import io.isthmus.vfio.pci.PciDevice;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@code isthmus vfio list/info} on a device bound to vfio-pci, inside the lab guest. */
@Tag("lab")
class CliLabTest {
    @Test
    void listAndInfoShowVfioRegionsIrqsAndTheIommu() {
        PciDevice edu = Edu.find();
        StringWriter out = new StringWriter(), err = new StringWriter();
        assertEquals(0, VfioMain.run(new PrintWriter(out), new PrintWriter(err), "list"), err.toString());
        assertTrue(out.toString().lines().anyMatch(l -> l.startsWith(edu.address().toString())
                && l.contains("1234:11e8") && l.endsWith("vfio-pci")), out.toString());
        out = new StringWriter();
        assertEquals(0, VfioMain.run(new PrintWriter(out), new PrintWriter(err), "info", edu.address().toString()),
                err.toString());
        String info = out.toString();
        assertTrue(info.contains("Capabilities: [40] MSI:"), info);
        assertTrue(info.contains("VFIO device: flags"), info);
        assertTrue(info.contains("BAR0   size 0x100000"), info);
        assertTrue(info.contains("MSI    count 1"), info);
        assertTrue(info.contains("IOMMU: page sizes 0x"), info);
    }
}
