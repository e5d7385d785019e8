package io.isthmus.vmm.config;

import static io.isthmus.vmm.config.CommandLinePciTest.error;
import static io.isthmus.vmm.config.CommandLinePciTest.parse;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code -device vfio-pci} on the command line: QEMU's properties and messages; the device is opened later. */
class CommandLineVfioTest {
    @Test
    void hostAndSysfsdevNameTheSysfsDirectory() {
        VmConfig c = parse("-M microvm,pcie=on -device vfio-pci,host=0000:00:04.0 -device vfio-pci,host=01:1f.7,"
                + "addr=5,id=gpu -device vfio-pci,sysfsdev=/sys/devices/pci0000:00/0000:00:05.0");
        assertEquals(List.of(
                new VmConfig.VfioPci("-device vfio-pci,host=0000:00:04.0", "/sys/bus/pci/devices/0000:00:04.0", -1),
                new VmConfig.VfioPci("-device vfio-pci,host=01:1f.7,addr=5,id=gpu",
                        "/sys/bus/pci/devices/0000:01:1f.7", 0x28),
                new VmConfig.VfioPci("-device vfio-pci,sysfsdev=/sys/devices/pci0000:00/0000:00:05.0",
                        "/sys/devices/pci0000:00/0000:00:05.0", -1)), c.vfioDevices());
        assertEquals("0000:00:05.0", c.vfioDevices().get(2).name(), "QEMU's name: the path's last component");
        assertEquals(List.of(), parse("-M microvm,pcie=on").vfioDevices());
    }

    @Test
    void badOptionsAreQemusErrors() {
        assertEquals("isthmus-vmm: -device vfio-pci,host=0000:00:04.0: No 'PCI' bus found for device 'vfio-pci'"
                + " (passthrough needs -M microvm,pcie=on)", error("-device vfio-pci,host=0000:00:04.0"));
        assertEquals("isthmus-vmm: -device vfio-pci: No provided host device\n"
                + "Use -device vfio-pci,host=DDDD:BB:DD.F or -device vfio-pci,sysfsdev=PATH_TO_DEVICE",
                error("-M microvm,pcie=on -device vfio-pci"));
        assertEquals("isthmus-vmm: -device vfio-pci,host=00:04: Property 'vfio-pci.host' doesn't take value"
                + " '00:04'", error("-M microvm,pcie=on -device vfio-pci,host=00:04"));
        assertEquals("isthmus-vmm: -device vfio-pci,host=00:20.0: Property 'vfio-pci.host' doesn't take value"
                + " '00:20.0'", error("-M microvm,pcie=on -device vfio-pci,host=00:20.0"));
        assertEquals("isthmus-vmm: -device vfio-pci,host=00:04.0,addr=32: Property 'vfio-pci.addr' doesn't take"
                + " value '32'", error("-M microvm,pcie=on -device vfio-pci,host=00:04.0,addr=32"));
        assertEquals("isthmus-vmm: -device vfio-pci,host=00:04.0,x-vga=on: Property 'vfio-pci.x-vga' not found",
                error("-M microvm,pcie=on -device vfio-pci,host=00:04.0,x-vga=on"));
    }
}
