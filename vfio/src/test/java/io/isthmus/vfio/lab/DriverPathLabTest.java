package io.isthmus.vfio.lab;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.vfio.DmaMapping;
import io.isthmus.vfio.IommuInfo;
import io.isthmus.vfio.Mmio;
import io.isthmus.vfio.PciAddress;
import io.isthmus.vfio.RegionInfo;
import io.isthmus.vfio.VfioContainer;
import io.isthmus.vfio.VfioDevice;
import io.isthmus.vfio.VfioException;
import io.isthmus.vfio.dma.DmaBuffer;
import io.isthmus.vfio.dma.DmaMemory;
import io.isthmus.vfio.dma.IovaAllocator;
import io.isthmus.vfio.pci.PciConfig;
import io.isthmus.vfio.pci.PciDevice;
import io.isthmus.vfio.pci.SysfsPci;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * What a user-space driver author meets, against edu behind the lab's IOMMU: close order, DMA memory accessors,
 * config-space helpers, the page size, IOVA 0, device lookup and one-call open, a second open, buffer slices and
 * ASCII error messages (issue 16, points 1 to 9, in that order).
 */
@Tag("lab")
class DriverPathLabTest {
    private static final long PAGE = DmaBuffer.pageSize();

    // 1. The natural close order: try (buffer; container) closes the container first.
    @Test
    void aBufferClosedAfterItsContainerClosesQuietly() throws Exception {
        DmaMapping mapping;
        byte[] data = pattern(Edu.DMA_LEN, 5);
        try (DmaBuffer buf = DmaBuffer.anonymous(2 * PAGE); Edu edu = Edu.open()) {
            long iova = edu.iovas().allocate(buf.size(), 0);
            mapping = buf.mapTo(edu.container, iova);
            buf.memory().putBytes(0, data, 0, data.length);
            edu.dma(iova, Edu.DMA_BUFFER, Edu.DMA_LEN, 0);
            edu.dma(Edu.DMA_BUFFER, iova + PAGE, Edu.DMA_LEN, Edu.DMA_TO_RAM);
            assertArrayEquals(data, bytes(buf.memory(), PAGE, Edu.DMA_LEN));
            assertTrue(mapping.mapped());
        } // edu (the container) closes here, then the buffer: it used to throw IommuDmaUnmap ... EBADF
        assertFalse(mapping.mapped(), "the container's close dropped the mapping");
        mapping.close(); // and closing it again still does nothing
    }

    // 1. The same when the container stays open but loses its last group: the kernel drops the IOMMU and its
    // mappings; the next group gets a fresh IOMMU, where the same IOVA maps again.
    @Test
    void closingTheLastGroupDropsItsMappingsAndTheNextGroupMapsAfresh() throws Exception {
        PciDevice pci = Edu.find();
        try (DmaBuffer buf = DmaBuffer.anonymous(2 * PAGE); VfioContainer c = VfioContainer.open()) {
            VfioDevice first = c.device(pci);
            long iova = IovaAllocator.forIommu(c.iommuInfo(), Edu.DMA_BITS).allocate(PAGE, 0);
            DmaMapping old = buf.mapTo(c, iova, 0, PAGE);
            first.group().close();
            assertFalse(old.mapped(), "the group's close took the IOMMU and its mappings with it");
            old.close();
            VfioDevice again = c.device(pci);
            again.setCommandBits(PciConfig.COMMAND_MEMORY | PciConfig.COMMAND_MASTER);
            DmaMapping fresh = buf.mapTo(c, iova, PAGE, PAGE); // EEXIST if the old mapping were alive
            byte[] data = pattern(Edu.DMA_LEN, 9);
            buf.memory().putBytes(PAGE, data, 0, data.length);
            try (Edu edu = Edu.over(c, again)) {
                edu.dma(fresh.iova(), Edu.DMA_BUFFER, Edu.DMA_LEN, 0);
                edu.dma(Edu.DMA_BUFFER, fresh.iova(), Edu.DMA_LEN, Edu.DMA_TO_RAM);
                assertArrayEquals(data, bytes(fresh.memory(), 0, Edu.DMA_LEN));
            }
        }
    }

    // 2. Typed DMA accessors: little-endian, the ordering in their names, a poll that sees the device's write.
    @Test
    void dmaMemoryAccessorsAreLittleEndianAndAPollSeesTheDevicesWrite() throws Exception {
        try (DmaBuffer buf = DmaBuffer.anonymous(2 * PAGE); Edu edu = Edu.open()) {
            long iova = edu.iovas().allocate(buf.size(), 0);
            buf.mapTo(edu.container, iova);
            DmaMemory mem = buf.memory();
            // The "descriptor": plain stores the device only reads, the last word published with a release store.
            mem.putInt(0, 0x44332211);
            mem.putShort(4, (short) 0x6655);
            mem.putByte(6, (byte) 0x77);
            mem.putByte(7, (byte) 0x88);
            mem.putLong(8, 0x0102030405060708L);
            int last = Edu.DMA_LEN - 8;
            for (int i = 16; i < last; i += 8) {
                mem.putLong(i, 0x1111111111111111L * (i / 8));
            }
            long mark = 0x5a5a5a5aa5a5a5a5L;
            mem.putLongRelease(last, mark);
            edu.dma(iova, Edu.DMA_BUFFER, Edu.DMA_LEN, 0); // the doorbell: a volatile MMIO store
            // The completion: the device writes page 1; poll its last word with acquire loads.
            edu.startDma(Edu.DMA_BUFFER, iova + PAGE, Edu.DMA_LEN, Edu.DMA_TO_RAM);
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (mem.getLongAcquire(PAGE + last) != mark) {
                assertTrue(System.nanoTime() < deadline, "the device's write never showed in a getLongAcquire poll");
                Thread.onSpinWait();
            }
            while ((edu.read(Edu.DMA_CMD) & Edu.DMA_RUN) != 0) {
                assertTrue(System.nanoTime() < deadline, "edu's DMA did not finish");
                Thread.sleep(1);
            }
            // Byte order: the bytes the device copied are the little-endian encoding of what was stored.
            assertArrayEquals(new byte[] {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, (byte) 0x88, 8, 7, 6, 5, 4, 3, 2,
                    1}, bytes(mem, PAGE, 16));
            assertEquals(0x44332211, mem.getIntAcquire(PAGE));
            assertEquals((short) 0x6655, mem.getShortVolatile(PAGE + 4));
            assertEquals((byte) 0x88, mem.getByteAcquire(PAGE + 7));
            assertEquals(0x0102030405060708L, mem.getLongVolatile(PAGE + 8));
            assertEquals(0x8877665544332211L, mem.getLongAcquire(PAGE));
            for (int i = 16; i < last; i += 8) {
                assertEquals(0x1111111111111111L * (i / 8), mem.getLongAcquire(PAGE + i), "word at " + i);
            }
            // Misaligned offsets are refused, naming the rule, instead of a torn access.
            var e = assertThrows(IllegalArgumentException.class, () -> mem.getIntAcquire(PAGE + 2));
            assertTrue(e.getMessage().contains("not a multiple of 4"), e.getMessage());
        }
    }

    // 3. Config-space helpers: named command bits, a checked read-modify-write, 8-bit writes.
    @Test
    void commandBitsByNameDecideWhetherEdusDmaReachesMemoryAndWriteConfig8WritesOneByte() throws Exception {
        try (DmaBuffer buf = DmaBuffer.anonymous(2 * PAGE); Edu edu = Edu.open()) {
            VfioDevice dev = edu.device;
            int pin = dev.readConfig8(PciConfig.INTERRUPT_PIN);
            int line = dev.readConfig8(PciConfig.INTERRUPT_LINE);
            dev.writeConfig8(PciConfig.INTERRUPT_LINE, 0x5a);
            assertEquals(0x5a, dev.readConfig8(PciConfig.INTERRUPT_LINE));
            assertEquals(pin, dev.readConfig8(PciConfig.INTERRUPT_PIN), "the byte next to it is untouched");
            dev.writeConfig8(PciConfig.INTERRUPT_LINE, line);

            long iova = edu.iovas().allocate(buf.size(), 0);
            buf.mapTo(edu.container, iova);
            byte[] data = pattern(Edu.DMA_LEN, 13);
            buf.memory().putBytes(0, data, 0, data.length);
            edu.dma(iova, Edu.DMA_BUFFER, Edu.DMA_LEN, 0); // Edu.open set MEMORY | MASTER

            int cmd = dev.clearCommandBits(PciConfig.COMMAND_MASTER);
            assertEquals(0, cmd & PciConfig.COMMAND_MASTER);
            assertEquals(PciConfig.COMMAND_MEMORY, cmd & PciConfig.COMMAND_MEMORY, "memory decoding stays on");
            edu.dma(Edu.DMA_BUFFER, iova + PAGE, Edu.DMA_LEN, Edu.DMA_TO_RAM);
            assertArrayEquals(new byte[Edu.DMA_LEN], bytes(buf.memory(), PAGE, Edu.DMA_LEN),
                    "without bus mastering, edu's DMA must not reach memory");

            cmd = dev.setCommandBits(PciConfig.COMMAND_MASTER);
            assertEquals(PciConfig.COMMAND_MASTER, cmd & PciConfig.COMMAND_MASTER);
            assertEquals(cmd, dev.readConfig16(PciConfig.COMMAND));
            edu.dma(Edu.DMA_BUFFER, iova + PAGE, Edu.DMA_LEN, Edu.DMA_TO_RAM);
            assertArrayEquals(data, bytes(buf.memory(), PAGE, Edu.DMA_LEN), "with bus mastering it does");
        }
    }

    // 4. The page size is public, and the IOVA allocator needs no page size argument.
    @Test
    void thePageSizeIsTheKernelsAndTheAllocatorFindsItItself() throws Exception {
        assertEquals(kernelPageSize(), DmaBuffer.pageSize());
        try (Edu edu = Edu.open(); DmaBuffer buf = DmaBuffer.anonymous(1)) {
            assertEquals(DmaBuffer.pageSize(), buf.size(), "a buffer is a whole number of pages");
            IommuInfo info = edu.container.iommuInfo();
            IovaAllocator iovas = IovaAllocator.forIommu(info, Edu.DMA_BITS);
            assertEquals(info.minPageSize(DmaBuffer.pageSize()), iovas.pageSize());
            assertEquals(0, iovas.allocate(1, 0) % DmaBuffer.pageSize());
        }
    }

    // 5. IOVA 0 is never handed out, though the IOMMU's first usable range starts there.
    @Test
    void theFirstIovaIsTheSecondPageAndEduUsesIt() throws Exception {
        try (Edu edu = Edu.open(); DmaBuffer buf = DmaBuffer.anonymous(2 * PAGE)) {
            IommuInfo info = edu.container.iommuInfo();
            assertEquals(0, info.iovaRanges().getFirst().start(), "precondition: IOVA 0 is usable: " + info);
            IovaAllocator iovas = edu.iovas();
            long iova = iovas.allocate(buf.size(), 0);
            assertNotEquals(0, iova);
            assertEquals(iovas.pageSize(), iova, "lowest first fit above page 0");
            byte[] data = pattern(Edu.DMA_LEN, 17);
            buf.memory().putBytes(0, data, 0, data.length);
            buf.mapTo(edu.container, iova);
            edu.dma(iova, Edu.DMA_BUFFER, Edu.DMA_LEN, 0);
            edu.dma(Edu.DMA_BUFFER, iova + PAGE, Edu.DMA_LEN, Edu.DMA_TO_RAM);
            assertArrayEquals(data, bytes(buf.memory(), PAGE, Edu.DMA_LEN));
        }
    }

    // 6. Lookup by id and class, and one call from a container to an open device.
    @Test
    void devicesAreFoundByIdAndClassAndOpenedInOneCall() {
        SysfsPci sysfs = SysfsPci.system();
        PciDevice main = Edu.find();
        int nonViable = nonViableGroup();
        List<PciDevice> edus = sysfs.withId(Edu.VENDOR, Edu.DEVICE);
        assertEquals(2, edus.size(), "the lab's two edus: " + edus);
        assertTrue(edus.contains(main), edus.toString());
        PciDevice second = edus.stream().filter(d -> d.iommuGroup().orElse(-1) == nonViable).findFirst()
                .orElseThrow(() -> new AssertionError("no edu in group " + nonViable + ": " + edus));
        assertEquals(edus, sysfs.withClass(0x00, 0xff), "edu's class is 00ff (unclassified)");
        assertEquals(edus, sysfs.withClass(0x00, 0xff, 0x00));
        PciDevice nic = sysfs.withClass(0x02, 0x00).stream().filter(d -> d.iommuGroup().orElse(-1) == nonViable)
                .findFirst().orElseThrow(() -> new AssertionError("no Ethernet controller in group " + nonViable));
        assertEquals("e1000", nic.driver().orElse("none"));

        try (VfioContainer c = VfioContainer.open()) {
            VfioDevice dev = c.device(main.address());
            dev.setCommandBits(PciConfig.COMMAND_MEMORY);
            assertEquals(0x010000ed, Mmio.read32(dev.mapRegion(RegionInfo.BAR0), Edu.ID));
            VfioException e = assertThrows(VfioException.class, () -> c.device(nic));
            assertEquals(VfioException.Step.FIND_DEVICE, e.step());
            assertTrue(e.getMessage().contains("the kernel driver e1000")
                    && e.getMessage().contains("isthmus vfio bind " + nic.address()), e.getMessage());
            e = assertThrows(VfioException.class, () -> c.device(second.address()));
            assertEquals(VfioException.Step.GROUP_NOT_VIABLE, e.step(), e.getMessage());
            e = assertThrows(VfioException.class, () -> c.device(PciAddress.parse("0000:00:1f.7")));
            assertEquals(VfioException.Step.FIND_DEVICE, e.step());
            assertTrue(e.getMessage().contains("no PCI device 0000:00:1f.7"), e.getMessage());
        }
    }

    // 7. A second open of an open device gives the same device: one fd, one BAR mapping.
    @Test
    void openingAnOpenDeviceAgainReturnsIt() throws Exception {
        PciDevice pci = Edu.find();
        try (VfioContainer c = VfioContainer.open()) {
            int fdsBefore = vfioDeviceFds();
            VfioDevice first = c.device(pci);
            VfioDevice second = c.device(pci.address());
            VfioDevice third = first.group().device(pci.address().toString());
            assertSame(first, second);
            assertSame(first, third);
            assertEquals(fdsBefore + 1, vfioDeviceFds(), "one device fd for three opens");
            assertSame(first.mapRegion(RegionInfo.BAR0), second.mapRegion(RegionInfo.BAR0), "one BAR0 mapping");
            first.close();
            assertEquals(fdsBefore, vfioDeviceFds());
            VfioDevice reopened = c.device(pci);
            assertNotSame(first, reopened, "after its close the device opens afresh");
            reopened.setCommandBits(PciConfig.COMMAND_MEMORY);
            assertEquals(0x010000ed, Mmio.read32(reopened.mapRegion(RegionInfo.BAR0), Edu.ID));
        }
    }

    // 8. Page-aligned slices of one buffer map at their own IOVAs and unmap with the buffer.
    @Test
    void slicesOfOneBufferMapAtTheirOwnIovasAndUnmapWithIt() throws Exception {
        try (Edu edu = Edu.open()) {
            IovaAllocator iovas = edu.iovas();
            long sqIova = iovas.allocate(PAGE, 0);
            iovas.allocate(PAGE, 0); // a hole: the two queues' IOVAs are not contiguous
            long cqIova = iovas.allocate(PAGE, 0);
            byte[] data = pattern(Edu.DMA_LEN, 21);
            try (DmaBuffer queues = DmaBuffer.anonymous(3 * PAGE)) {
                DmaMapping sq = queues.mapTo(edu.container, sqIova, 0, PAGE);
                DmaMapping cq = queues.mapTo(edu.container, cqIova, 2 * PAGE, PAGE);
                assertEquals(PAGE, sq.size());
                sq.memory().putBytes(0, data, 0, data.length);
                edu.dma(sqIova, Edu.DMA_BUFFER, Edu.DMA_LEN, 0);
                edu.dma(Edu.DMA_BUFFER, cqIova, Edu.DMA_LEN, Edu.DMA_TO_RAM);
                assertArrayEquals(data, bytes(cq.memory(), 0, Edu.DMA_LEN));
                assertArrayEquals(data, bytes(queues.memory(), 2 * PAGE, Edu.DMA_LEN), "the slice is the third page");
                assertArrayEquals(new byte[Edu.DMA_LEN], bytes(queues.memory(), PAGE, Edu.DMA_LEN));
                var e = assertThrows(IllegalArgumentException.class,
                        () -> queues.mapTo(edu.container, iovas.allocate(PAGE, 0), 100, PAGE));
                assertTrue(e.getMessage().contains("not page-aligned"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class,
                        () -> queues.mapTo(edu.container, iovas.allocate(2 * PAGE, 0), 2 * PAGE, 2 * PAGE));
                assertTrue(e.getMessage().contains("not inside"), e.getMessage());
            }
            // The buffer's close unmapped both slices: their IOVAs map again (EEXIST if either were still mapped).
            try (DmaBuffer other = DmaBuffer.anonymous(PAGE)) {
                other.mapTo(edu.container, sqIova).close();
                other.mapTo(edu.container, cqIova).close();
            }
        }
    }

    // 9. Error messages are ASCII, so a POSIX-locale console shows them whole (ExampleLabTest runs one there).
    @Test
    void errorMessagesAreAscii() {
        List<String> messages = new ArrayList<>();
        messages.add(assertThrows(IllegalArgumentException.class, () -> PciAddress.parse("00:20.0")).getMessage());
        messages.add(assertThrows(IllegalArgumentException.class, () -> DmaBuffer.anonymous(PAGE, 3000))
                .getMessage());
        messages.add(assertThrows(IllegalArgumentException.class,
                () -> new IovaAllocator(List.of(), PAGE, 64).allocate(PAGE, 1000)).getMessage());
        int nonViable = nonViableGroup();
        try (VfioContainer c = VfioContainer.open()) {
            messages.add(assertThrows(IllegalStateException.class, c::iommuInfo).getMessage());
            messages.add(assertThrows(VfioException.class, () -> c.group(nonViable)).getMessage());
            messages.add(assertThrows(VfioException.class, () -> c.group(9999)).getMessage());
        }
        for (String m : messages) {
            assertTrue(m.chars().allMatch(ch -> ch < 0x80), "not ASCII: " + m);
        }
    }

    static int nonViableGroup() {
        String env = System.getenv("ISTHMUS_LAB_NONVIABLE_GROUP");
        assertTrue(env != null && !env.isBlank(), "ISTHMUS_LAB_NONVIABLE_GROUP is not set (the lab's /init sets it)");
        return Integer.parseInt(env.strip());
    }

    static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * seed + (i >> 8) + 1);
        }
        return b;
    }

    static byte[] bytes(DmaMemory mem, long offset, int n) {
        byte[] out = new byte[n];
        mem.getBytesAcquire(offset, out, 0, n);
        return out;
    }

    /** The page size the kernel uses for this process's memory, from /proc/self/smaps ("KernelPageSize: 4 kB"). */
    static long kernelPageSize() throws IOException {
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/smaps"))) {
            String line = lines.filter(l -> l.startsWith("KernelPageSize:")).findFirst()
                    .orElseThrow(() -> new AssertionError("no KernelPageSize in /proc/self/smaps"));
            return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
        }
    }

    /** Descriptors of this process that are VFIO device fds ({@code anon_inode:[vfio-device]}). */
    static int vfioDeviceFds() throws IOException {
        int n = 0;
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    if (Files.readSymbolicLink(fd).toString().equals("anon_inode:[vfio-device]")) {
                        n++;
                    }
                } catch (IOException gone) {
                    // the directory's own descriptor, closed by the time it is read
                }
            }
        }
        return n;
    }
}
