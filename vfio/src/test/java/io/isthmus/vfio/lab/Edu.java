package io.isthmus.vfio.lab;

import io.isthmus.vfio.Mmio;
import io.isthmus.vfio.PciAddress;
import io.isthmus.vfio.VfioContainer;
import io.isthmus.vfio.VfioDevice;
import io.isthmus.vfio.dma.IovaAllocator;
import io.isthmus.vfio.pci.PciConfig;
import io.isthmus.vfio.pci.PciDevice;
import io.isthmus.vfio.pci.SysfsPci;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * QEMU's edu device (docs/specs/edu.rst, hw/misc/edu.c) as the lab presents it: vendor 1234, device 11e8, bound to
 * vfio-pci, BAR0 = 1 MiB of registers. Register offsets and bits are the spec's.
 */
final class Edu implements AutoCloseable {
    static final int VENDOR = 0x1234, DEVICE = 0x11e8;
    static final int ID = 0x00, LIVENESS = 0x04, FACTORIAL = 0x08, STATUS = 0x20, IRQ_STATUS = 0x24,
            IRQ_RAISE = 0x60, IRQ_ACK = 0x64, DMA_SRC = 0x80, DMA_DST = 0x88, DMA_COUNT = 0x90, DMA_CMD = 0x98;
    static final int STATUS_COMPUTING = 0x01, STATUS_IRQ_ON_FACTORIAL = 0x80;
    static final int DMA_RUN = 0x01, DMA_TO_RAM = 0x02, DMA_IRQ = 0x04;
    /** The device's DMA buffer in its own address space, and its size. */
    static final long DMA_BUFFER = 0x40000, DMA_BUFFER_SIZE = 4096;
    /**
     * Bytes per test transfer. Less than the 4 KiB buffer on purpose: this QEMU's edu rejects a transfer that ends
     * exactly at the buffer's end ("DMA range 0x40000-0x40fff out of bounds") with a hardware error that kills QEMU.
     */
    static final int DMA_LEN = 2048;
    /** edu's DMA mask: addresses above it are clamped, so IOVAs must stay below 2^28. */
    static final int DMA_BITS = 28;
    /** Interrupt status values edu raises: 0x1 after a factorial, 0x100 after a DMA. */
    static final int IRQ_FACTORIAL = 0x1, IRQ_DMA = 0x100;

    final PciDevice pci;
    final VfioContainer container;
    final VfioDevice device;
    final MemorySegment bar0;

    private Edu(PciDevice pci, VfioContainer container, VfioDevice device) {
        this.pci = pci;
        this.container = container;
        this.device = device;
        this.bar0 = device.mapRegion(0);
    }

    /**
     * The lab's main edu: the one at the address the lab's /init exports as {@code ISTHMUS_LAB_EDU} (the lab also has
     * a second edu, in a group that is not viable, which these tests must not pick by accident); without that
     * variable, the only edu in sysfs. Fails naming what is missing.
     */
    static PciDevice find() {
        SysfsPci sysfs = SysfsPci.system();
        String named = System.getenv("ISTHMUS_LAB_EDU");
        if (named != null) {
            PciDevice d = sysfs.device(PciAddress.parse(named)).orElseThrow(() -> new AssertionError(
                    "ISTHMUS_LAB_EDU=" + named + " but there is no such device in /sys/bus/pci/devices"));
            if (d.vendor() != VENDOR || d.device() != DEVICE) {
                throw new AssertionError("ISTHMUS_LAB_EDU=" + named + " is not an edu (1234:11e8)");
            }
            return d;
        }
        List<PciDevice> edus = sysfs.devices().stream().filter(d -> d.vendor() == VENDOR && d.device() == DEVICE)
                .toList();
        if (edus.size() != 1) {
            throw new AssertionError(edus.isEmpty()
                    ? "no edu device (1234:11e8) in /sys/bus/pci/devices: is QEMU run with -device edu?"
                    : "several edu devices " + edus.stream().map(PciDevice::address).toList()
                            + " and no ISTHMUS_LAB_EDU naming the one to test");
        }
        return edus.getFirst();
    }

    /** Opens a container, edu's group and edu, enables memory decoding and bus mastering, maps BAR0. */
    static Edu open() {
        PciDevice pci = find();
        if (!pci.boundToVfio()) {
            throw new AssertionError("edu " + pci.address() + " is bound to " + pci.driver().orElse("no driver")
                    + ", not vfio-pci: the lab binds it before the tests run");
        }
        VfioContainer c = VfioContainer.open();
        try {
            VfioDevice d = c.device(pci);
            // Memory decoding for BAR access, bus mastering for DMA and MSI, which are memory writes.
            d.setCommandBits(PciConfig.COMMAND_MEMORY | PciConfig.COMMAND_MASTER);
            return new Edu(pci, c, d);
        } catch (RuntimeException | Error e) {
            c.close();
            throw e;
        }
    }

    /** IOVAs for edu: the container's IOMMU ranges under edu's 28-bit DMA mask. */
    IovaAllocator iovas() {
        return IovaAllocator.forIommu(container.iommuInfo(), DMA_BITS);
    }

    /** Starts a DMA of {@code count} bytes without waiting: the doorbell is the write of the command register. */
    void startDma(long src, long dst, long count, int cmd) {
        write64(DMA_SRC, src);
        write64(DMA_DST, dst);
        write64(DMA_COUNT, count);
        write(DMA_CMD, cmd | DMA_RUN);
    }

    /** An edu over a device already open in {@code container}; closing it closes the container. */
    static Edu over(VfioContainer container, VfioDevice device) {
        return new Edu(find(), container, device);
    }

    int read(int reg) {
        return Mmio.read32(bar0, reg);
    }

    void write(int reg, int value) {
        Mmio.write32(bar0, reg, value);
    }

    void write64(int reg, long value) {
        Mmio.write64(bar0, reg, value);
    }

    /** Starts a DMA of {@code count} bytes and waits (up to 10 s) for edu to clear its run bit. */
    void dma(long src, long dst, long count, int cmd) throws InterruptedException {
        startDma(src, dst, count, cmd);
        // edu completes a transfer from a 100 ms (virtual time) timer.
        long deadline = System.nanoTime() + 10_000_000_000L;
        while ((read(DMA_CMD) & DMA_RUN) != 0) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("edu DMA did not complete within 10 s (cmd 0x"
                        + Integer.toHexString(read(DMA_CMD)) + ")");
            }
            Thread.sleep(5);
        }
    }

    @Override
    public void close() {
        container.close(); // closes the device, then the group, then the container
    }
}
