package io.isthmus.vmm.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.isthmus.vmm.device.Unassigned;
import io.isthmus.vmm.qmp.PciQuery;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * QMP's {@code query-pci} built from a bus with the host bridge and isthmus-testdev, against the replies QEMU 7.2
 * gives ({@code -M microvm,pcie=on}: the host bridge as QEMU lists it, byte for byte as its JSON; without
 * {@code pcie=on}: {@code []}). A BAR the guest has not placed reads address -1, as QEMU's; once placed and decoding,
 * its address.
 */
class PciQueryTest {
    static final ObjectMapper JSON = new ObjectMapper();
    /** QEMU 7.2's host bridge entry, as {@code qemu-system-x86_64 -M microvm,pcie=on} answers it. */
    static final String QEMU_HOST_BRIDGE = "{\"irq_pin\": 0, \"bus\": 0, \"qdev_id\": \"\", \"slot\": 0,"
            + " \"class_info\": {\"class\": 1536, \"desc\": \"Host bridge\"}, \"id\": {\"device\": 8,"
            + " \"subsystem-vendor\": 6900, \"vendor\": 6966, \"subsystem\": 4352}, \"function\": 0, \"regions\": []}";

    final TestPlatform p = new TestPlatform();

    PcieHost host() {
        PcieHost host = new PcieHost(PcieLayout.microvm(40), new FakeMsiRouter(), new Unassigned.Reports(s -> { }));
        host.add(-1, new IsthmusTestDevice(1 << 20, 8));
        host.plug(p);
        return host;
    }

    static JsonNode json(String s) throws Exception {
        return JSON.readTree(s);
    }

    /** As a client reads it: through the JSON text (numbers then compare by value, not by Java type). */
    static JsonNode wire(JsonNode reply) throws Exception {
        return JSON.readTree(JSON.writeValueAsString(reply));
    }

    static String testdev(long bar0, long bar2, int irq) {
        return "{\"bus\": 0, \"slot\": 1, \"function\": 0, \"class_info\": {\"class\": 65280},"
                + " \"id\": {\"device\": 32343, \"vendor\": 4660, \"subsystem\": 4352, \"subsystem-vendor\": 6900},"
                + " \"irq\": " + irq + ", \"irq_pin\": 1, \"qdev_id\": \"\", \"regions\": ["
                + "{\"bar\": 0, \"type\": \"memory\", \"address\": " + bar0 + ", \"size\": 16384,"
                + " \"prefetch\": false, \"mem_type_64\": false},"
                + "{\"bar\": 2, \"type\": \"memory\", \"address\": " + bar2 + ", \"size\": 1048576,"
                + " \"prefetch\": true, \"mem_type_64\": true}]}";
    }

    @Test
    void noPciBusIsAnEmptyListAsQemusMicrovm() {
        assertEquals(JSON.createArrayNode(), PciQuery.of(null));
    }

    @Test
    void unplacedBarsReadMinusOne() throws Exception {
        PcieHost host = host();
        assertEquals(json("[{\"bus\": 0, \"devices\": [" + QEMU_HOST_BRIDGE + ", " + testdev(-1, -1, 0) + "]}]"),
                wire(PciQuery.of(host.bus())));
        host.close();
    }

    @Test
    void placedBarsReadWhereTheyDecode() throws Exception {
        PcieHost host = host();
        long ecam = host.layout().ecamBase(), cfg = ecam + (0x08L << 12);
        p.mmio.write(cfg + 0x10, 4, 0xc000_0000L);
        p.mmio.write(cfg + 0x18, 4, 0);
        p.mmio.write(cfg + 0x1c, 4, 0xc0);
        p.mmio.write(cfg + 0x3c, 1, 5);
        // Programmed but memory decoding off: QEMU still reports PCI_BAR_UNMAPPED.
        assertEquals(json("[{\"bus\": 0, \"devices\": [" + QEMU_HOST_BRIDGE + ", " + testdev(-1, -1, 5) + "]}]"),
                wire(PciQuery.of(host.bus())));
        p.mmio.write(cfg + 0x04, 2, Pci.COMMAND_MEMORY);
        assertEquals(json("[{\"bus\": 0, \"devices\": [" + QEMU_HOST_BRIDGE + ", "
                        + testdev(0xc000_0000L, 0xc0_0000_0000L, 5) + "]}]"), wire(PciQuery.of(host.bus())));
        assertEquals(List.of(0xc000_0000L, 0xc0_0000_0000L), List.of(host.bus().mappedAt(8, 0),
                host.bus().mappedAt(8, 2)));
        host.close();
    }
}
