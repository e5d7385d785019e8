package io.isthmus.vmm.passthrough;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.kvm.bus.MmioBus;
import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.sys.EventFd;
import io.isthmus.sys.Libc;
import io.isthmus.vfio.VfioContainer;
import io.isthmus.vfio.pci.SysfsPci;
import io.isthmus.vmm.config.VmConfig;
import io.isthmus.vmm.pci.MsiRouter;
import io.isthmus.vmm.pci.MsiVector;
import io.isthmus.vmm.pci.PciSlot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A passthrough function over an edu-shaped VFIO kernel ({@link EduKernel}), with synthetic configuration accesses:
 * what the guest sees, what reaches the device, guest RAM mapped for DMA at IOVA = GPA, and the MSI vector's eventfd
 * handed to VFIO and routed as the guest programs the capability. (BAR mapping as KVM slots needs /dev/kvm: the lab
 * test covers it.)
 */
class VfioPciFunctionTest {
    @TempDir
    Path root;
    private EduKernel kernel = new EduKernel();
    private GuestMemory memory;
    private VfioPassthrough passthrough;
    private VfioPciFunction function;
    private Router router = new Router();
    private MmioBus space = new MmioBus();

    /** Records routes as KVM would be told them; real eventfds, as VFIO needs. */
    private static final class Router implements MsiRouter {
        final List<Vector> vectors = new ArrayList<>();

        @Override
        public MsiVector allocate(String owner) {
            Vector v = new Vector(48 + vectors.size(), EventFd.create(Libc.EFD_NONBLOCK, owner));
            vectors.add(v);
            return v;
        }
    }

    private static final class Vector implements MsiVector {
        final int gsi;
        final EventFd fd;
        long address = -1;
        int data = -1;
        boolean closed;

        Vector(int gsi, EventFd fd) {
            this.gsi = gsi;
            this.fd = fd;
        }

        @Override
        public int gsi() {
            return gsi;
        }

        @Override
        public EventFd eventFd() {
            return fd;
        }

        @Override
        public void route(long address, int data) {
            this.address = address;
            this.data = data;
        }

        @Override
        public void unroute() {
            address = -1;
            data = -1;
        }

        @Override
        public void trigger() {
            fd.signal(1);
        }

        @Override
        public void close() {
            closed = true;
            fd.close();
        }
    }

    @BeforeEach
    void open() throws IOException {
        open(new EduKernel());
    }

    private void open(EduKernel k) throws IOException {
        kernel = k;
        Path d = root.resolve("bus/pci/devices/" + EduKernel.DEVICE);
        if (!Files.exists(d)) {
            sysfs(d);
        }
        memory = GuestMemory.builder().region(0, 2 << 20).region(4L << 30, 1 << 20).build();
        passthrough = VfioPassthrough.open(List.of(new VmConfig.VfioPci("-device vfio-pci,host=" + EduKernel.DEVICE,
                d.toString(), -1)), memory, new SysfsPci(root), () -> VfioContainer.open(kernel, "/dev/vfio"));
        function = passthrough.function(0, null);
        function.attach(new PciSlot(0x20, router, memory, space));
    }

    private void sysfs(Path d) throws IOException {
        Files.createDirectories(d);
        Files.writeString(d.resolve("vendor"), "0x1234\n");
        Files.writeString(d.resolve("device"), "0x11e8\n");
        Files.createSymbolicLink(d.resolve("driver"), Files.createDirectories(root.resolve("bus/pci/drivers/vfio-pci")));
        Path g = Files.createDirectories(root.resolve("kernel/iommu_groups/" + EduKernel.GROUP + "/devices"));
        Files.createSymbolicLink(d.resolve("iommu_group"), g.getParent());
        Files.createSymbolicLink(g.resolve(EduKernel.DEVICE), d);
    }

    @AfterEach
    void close() {
        function.close();
        passthrough.close();
        memory.close();
    }

    @Test
    void allGuestRamIsMappedForDmaAtItsGuestPhysicalAddress() {
        assertEquals(List.of("map_dma iova 0x0 size 0x200000 flags 3", "map_dma iova 0x100000000 size 0x100000 flags 3"),
                kernel.calls.stream().filter(c -> c.startsWith("map_dma")).toList());
    }

    @Test
    void theGuestSeesTheDevicesIdsAndOnlyTheEmulatedMsiCapability() {
        var c = function.config();
        assertEquals("vfio " + EduKernel.DEVICE, function.name());
        assertEquals(0x11e81234, c.read(0x00, 4));
        assertEquals(0x00ff0010, c.read(0x08, 4), "class and revision from the device");
        assertEquals(0x11001af4, c.read(0x2c, 4));
        assertEquals(0, c.read(0x10, 4), "BAR0 is the guest's, not the host's 0xfea00000");
        assertEquals(0, c.read(0x30, 4), "no expansion ROM");
        assertEquals(0, c.read(0x3d, 1), "no INTx pin: the guest uses MSI");
        assertEquals(0x10, c.read(0x06, 2) & 0x10, "capability list");
        int at = c.read(0x34, 1);
        assertEquals(0x05, c.read(at, 1), "MSI");
        assertEquals(0, c.read(at + 1, 1), "and nothing after it");
        assertEquals(1, function.layout().msiVectors());
    }

    @Test
    void barSizingIsEmulatedAndTheCommandRegisterReachesTheDevice() {
        var c = function.config();
        int before = kernel.calls.size();
        c.write(0x10, 4, 0xffffffff);
        assertEquals(0xfff00000, c.read(0x10, 4), "1 MiB, 32-bit, not prefetchable");
        c.write(0x10, 4, 0xc0000000);
        assertEquals(0xc0000000, c.read(0x10, 4));
        assertTrue(kernel.calls.subList(before, kernel.calls.size()).stream().noneMatch(s -> s.startsWith("config")),
                "BAR writes stay here: " + kernel.calls.subList(before, kernel.calls.size()));
        // vfio-pci needs the guest's memory and bus master bits on the device to decode and DMA.
        c.write(0x04, 2, 0x6);
        assertTrue(kernel.calls.contains("config write 0x4: 06 00"), kernel.calls.toString());
        assertEquals(0x6, c.read(0x04, 2) & 0x7);
        assertEquals(0xc0000000L, c.barAddress(0));
        assertTrue(kernel.calls.contains("mmap 0x0 0x100000"), "BAR0 mapped into the VMM to become a slot");
    }

    @Test
    void theMsiVectorsEventfdGoesToVfioAndItsRouteFollowsTheGuest() {
        assertEquals(1, router.vectors.size());
        assertTrue(kernel.calls.contains("set_irqs flags 0x24 index 1 start 0 count 1"), kernel.calls.toString());
        Vector v = router.vectors.getFirst();
        assertEquals(-1, v.address, "no route before the guest enables MSI");
        var c = function.config();
        int at = c.read(0x34, 1);
        int before = kernel.calls.size();
        c.write(at + 4, 4, 0xfee00000);
        c.write(at + 8, 4, 0);
        c.write(at + 12, 2, 0x51);
        c.write(at + 2, 2, 1);
        assertEquals(0xfee00000L, v.address);
        assertEquals(0x51, v.data);
        assertTrue(kernel.calls.subList(before, kernel.calls.size()).stream().noneMatch(s -> s.startsWith("config")),
                "the guest's MSI programming stays in the emulated capability");
        c.write(at + 2, 2, 0);
        assertEquals(-1, v.address, "disabled: no route");
    }

    @Test
    void resetResetsTheDeviceAndStopsItsDecodingAndDma() {
        function.config().write(0x04, 2, 0x6);
        function.reset();
        assertTrue(kernel.calls.contains("reset"), kernel.calls.toString());
        assertEquals(0, kernel.config[4] & 0x6, "memory and bus master off on the device");
    }

    @Test
    void msixIsPassedThroughWithItsTableTrappedAndTheRestOfTheBarForwarded() throws IOException {
        close();
        router = new Router();
        space = new MmioBus();
        open(new EduKernel(true));
        assertEquals(new HostFunctionLayout.Msix(4, 0, 0x2000, 0, 0x3000), function.layout().msix());
        assertEquals(0, function.layout().msiVectors(), "one interrupt capability: MSI-X");
        assertTrue(kernel.calls.contains("set_irqs flags 0x24 index 2 start 0 count 4"), kernel.calls.toString());
        assertEquals(4, router.vectors.size());
        var c = function.config();
        int at = c.read(0x34, 1);
        assertEquals(0x11, c.read(at, 1));
        assertEquals(0, c.read(at + 1, 1));
        assertEquals(0x2000, c.read(at + 4, 4));
        // The table shares BAR0's only page-sized parts: nothing is mmap'd as a slot, every access traps.
        assertEquals(0, function.mappedBars());
        c.write(0x10, 4, 0xc0000000);
        c.write(0x04, 2, 0x6);
        c.bar(0).mapper().map(0xc0000000L); // what the bus does once BAR0 decodes
        try {
            space.write(0xc0002010L, 4, 0xfee00000L); // entry 1: address, data 0x61, unmasked
            space.write(0xc0002018L, 4, 0x61);
            space.write(0xc000201cL, 4, 0);
            c.write(at + 2, 2, 0x8000);
            assertEquals(0xfee00000L, router.vectors.get(1).address);
            assertEquals(0x61, router.vectors.get(1).data);
            assertEquals(-1, router.vectors.get(0).address, "entry 0 is still masked");
            assertEquals(0x61, space.read(0xc0002018L, 4), "the table is the emulated one");
            assertTrue(kernel.calls.stream().noneMatch(s -> s.startsWith("bar")), "no table access reaches the device");
            space.write(0xc0000004L, 4, 0x1234);
            space.read(0xc0000008L, 4);
            assertTrue(kernel.calls.contains("bar write 0x4 4") && kernel.calls.contains("bar read 0x8 4"),
                    "registers outside the table go to the device: " + kernel.calls);
            // Each trapped access is a VM exit, counted where it lands: 4 at the table, 2 at the registers.
            assertEquals(function.name() + ": VM exits at BARs: BAR0 2 (MSI-X table/PBA 4)", function.trapReport());
        } finally {
            c.bar(0).mapper().unmap();
        }
    }

    @Test
    void closeDisablesTheInterruptAndReleasesTheVector() {
        function.close();
        assertTrue(kernel.calls.getLast().startsWith("set_irqs") && kernel.calls.getLast().endsWith("index 1 start 0"
                + " count 0"), kernel.calls.getLast());
        assertNotNull(router.vectors.getFirst());
        assertTrue(router.vectors.getFirst().closed);
    }
}
