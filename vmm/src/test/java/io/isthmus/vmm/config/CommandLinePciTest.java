package io.isthmus.vmm.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code -M microvm,pcie=on} and {@code -device isthmus-testdev} on the command line. */
class CommandLinePciTest {
    static VmConfig parse(String line) {
        return ((CommandLine.Run) CommandLine.parse(line.split(" "))).config();
    }

    static String error(String line) {
        return assertThrows(OptionException.class, () -> CommandLine.parse(line.split(" "))).format("isthmus-vmm");
    }

    @Test
    void pcieIsOffUnlessOnAsInQemu() {
        assertFalse(parse("-m 64").pcie());
        assertFalse(parse("-M microvm,pcie=auto").pcie(), "microvm builds the bridge only for on");
        assertFalse(parse("-M microvm,pcie=off").pcie());
        assertTrue(parse("-M microvm,pcie=on").pcie());
        assertTrue(parse("-M microvm,pcie=on -M microvm").pcie(), "a later -M without pcie keeps it");
        assertFalse(parse("-M microvm,pcie=on -M pcie=off").pcie(), "the last one wins");
        assertTrue(parse("-machine pcie=on,accel=kvm").pcie());
        assertEquals("isthmus-vmm: Parameter 'pcie' does not accept value 'yes'", error("-M microvm,pcie=yes"));
    }

    @Test
    void testDevicesWithQemusAddressSyntax() {
        VmConfig c = parse("-M microvm,pcie=on -device isthmus-testdev -device isthmus-testdev,addr=1f.7,membar=1G,"
                + "vectors=16,id=t1 -device isthmus-testdev,addr=0x3");
        assertEquals(List.of(new VmConfig.TestDevice(-1, 128L << 30, 8), new VmConfig.TestDevice(0xff, 1L << 30, 16),
                new VmConfig.TestDevice(0x18, 128L << 30, 8)), c.testDevices());
    }

    @Test
    void badTestDevicesAreErrors() {
        assertEquals("isthmus-vmm: -device isthmus-testdev: No 'PCI' bus found for device 'isthmus-testdev'",
                error("-device isthmus-testdev"));
        assertEquals("isthmus-vmm: -device isthmus-testdev,addr=20: Property 'isthmus-testdev.addr' doesn't take"
                + " value '20'", error("-M microvm,pcie=on -device isthmus-testdev,addr=20"));
        assertEquals("isthmus-vmm: -device isthmus-testdev,addr=1.8: Property 'isthmus-testdev.addr' doesn't take"
                + " value '1.8'", error("-M microvm,pcie=on -device isthmus-testdev,addr=1.8"));
        assertTrue(error("-M microvm,pcie=on -device isthmus-testdev,membar=3G").contains("power of two"));
        assertTrue(error("-M microvm,pcie=on -device isthmus-testdev,membar=2K").contains("at least 4K"));
        assertTrue(error("-M microvm,pcie=on -device isthmus-testdev,vectors=257").contains("1 to 256"));
        assertEquals("isthmus-vmm: -device isthmus-testdev,bogus=1: Property 'isthmus-testdev.bogus' not found",
                error("-M microvm,pcie=on -device isthmus-testdev,bogus=1"));
    }
}
