package io.isthmus.vmm.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.isthmus.kvm.memory.GuestMemory;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The fw_cfg device driven through its ports and DMA descriptors in RAM, as a guest drives it. The expected values
 * of odd accesses are what QEMU 7.2 gives (the firmware test guest printed them under QEMU microvm with KVM; the
 * lab's FirmwareDifferentialTest compares them live).
 */
class FwCfgTest {
    /** RAM below 1 MiB and from 4 MiB to 5 MiB: a hole between, and nothing above. */
    private static final long LOW_END = 1 << 20, HIGH = 4 << 20, HIGH_END = 5 << 20;
    private static final byte[] KERNEL = new byte[300];

    static {
        for (int i = 0; i < KERNEL.length; i++) {
            KERNEL[i] = (byte) (i * 7 + 1);
        }
    }

    private GuestMemory ram;
    private TestPlatform platform;
    private FwCfg fwCfg;

    @BeforeEach
    void plug() {
        ram = GuestMemory.builder().region(0, LOW_END).region(HIGH, HIGH_END - HIGH).build();
        platform = new TestPlatform(ram);
        fwCfg = new FwCfg(items());
        fwCfg.plug(platform);
    }

    @AfterEach
    void close() {
        ram.close();
    }

    private static FwCfgItems items() {
        return FwCfgItems.builder()
                .item(FwCfgItems.SIGNATURE, "QEMU".getBytes(StandardCharsets.US_ASCII))
                .i32(FwCfgItems.ID, 3)
                .i16(FwCfgItems.NB_CPUS, 3)
                .i32(FwCfgItems.IRQ0_OVERRIDE, 1)
                .item(FwCfgItems.KERNEL_DATA, KERNEL)
                .file("b-file", new byte[] {1, 2, 3, 4, 5})
                .file("a-file", new byte[] {9, 8, 7})
                .build();
    }

    private void select(int key) {
        platform.pio.write(0x510, 2, key);
    }

    private byte[] readPorts(int n) {
        byte[] out = new byte[n];
        for (int i = 0; i < n; i++) {
            out[i] = (byte) platform.pio.read(0x511, 1);
        }
        return out;
    }

    private long in(int port, int size) {
        return platform.pio.read(port, size);
    }

    /** Writes a descriptor at {@code desc}, starts it through the two halves, returns its control word after. */
    private int dma(long desc, int control, int length, long address) {
        writeDescriptor(desc, control, length, address);
        start(desc);
        return Integer.reverseBytes(ram.readInt(desc));
    }

    private void writeDescriptor(long desc, int control, int length, long address) {
        ram.writeInt(desc, Integer.reverseBytes(control));
        ram.writeInt(desc + 4, Integer.reverseBytes(length));
        ram.writeLong(desc + 8, Long.reverseBytes(address));
    }

    private void start(long desc) {
        platform.pio.write(0x514, 4, Integer.reverseBytes((int) (desc >>> 32)));
        platform.pio.write(0x518, 4, Integer.reverseBytes((int) desc));
    }

    private static int sel(int key) {
        return key << 16 | FwCfg.DMA_SELECT;
    }

    private static String ascii(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    @Test
    void theSignatureIsSelectedAtFirstAndAfterAReset() {
        assertEquals("QEMU", ascii(readPorts(4)));
        select(FwCfgItems.NB_CPUS);
        readPorts(1);
        fwCfg.reset();
        assertEquals("QEMU", ascii(readPorts(4)));
    }

    @Test
    void selectingStartsAtOffsetZeroAndReadsPastTheEndAreZero() {
        select(FwCfgItems.NB_CPUS);
        assertArrayEquals(new byte[] {3, 0, 0, 0, 0, 0}, readPorts(6));
        select(FwCfgItems.NB_CPUS);
        assertArrayEquals(new byte[] {3}, readPorts(1));
        select(FwCfgItems.ID);
        assertArrayEquals(new byte[] {3, 0, 0, 0, 0}, readPorts(5));
    }

    @Test
    void keysAreMaskedAsQemuMasksThem() {
        select(0x4000 | FwCfgItems.NB_CPUS); // the write channel bit is ignored
        assertArrayEquals(new byte[] {3, 0}, readPorts(2));
        select(FwCfgItems.IRQ0_OVERRIDE);
        assertArrayEquals(new byte[] {1, 0, 0, 0}, readPorts(4));
        for (int key : new int[] {FwCfgItems.ARCH_LOCAL | FwCfgItems.NB_CPUS, 0x3f, 0x40, 0x3fff, 0xffff, 0x06}) {
            select(key);
            assertArrayEquals(new byte[4], readPorts(4), "key 0x" + Integer.toHexString(key));
        }
    }

    @Test
    void theDirectoryListsTheFilesByNameWithTheirSelectorsAndSizes() {
        select(FwCfgItems.FILE_DIR);
        byte[] dir = readPorts(4 + 64 * 3);
        assertEquals("00000002", hex(dir, 0, 4));
        assertEquals("00000003" + "0020" + "0000", hex(dir, 4, 8));
        assertEquals("a-file", ascii(Arrays.copyOfRange(dir, 12, 18)));
        assertEquals("00000005" + "0021" + "0000", hex(dir, 68, 8));
        assertEquals("b-file", ascii(Arrays.copyOfRange(dir, 76, 82)));
        assertArrayEquals(new byte[64 - 14], Arrays.copyOfRange(dir, 82, 132), "NUL-padded");
        assertArrayEquals(new byte[64], Arrays.copyOfRange(dir, 132, 196), "empty slot");
        select(0x21);
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 0}, readPorts(6));
        select(0x22);
        assertArrayEquals(new byte[2], readPorts(2));
    }

    private static String hex(byte[] b, int from, int n) {
        return java.util.HexFormat.of().formatHex(b, from, from + n);
    }

    /** What QEMU 7.2 reads and does for accesses of other sizes (the values the firmware guest printed there). */
    @Test
    void oddPortAccessesDoWhatTheyDoUnderQemu() {
        select(0);
        assertEquals('Q', in(0x510, 1), "an 8-bit read of the selector port reads data");
        assertEquals(0, in(0x510, 2), "16-bit reads are not valid on the selector/data pair");
        assertEquals(0xff45, in(0x511, 2), "a data byte, then an unassigned port");
        assertEquals(0, in(0x510, 4), "one invalid 32-bit access");
        platform.pio.write(0x510, 4, 0xffff0001L); // not a 16-bit write: dropped
        platform.pio.write(0x511, 1, 0x12);        // data writes were removed in QEMU 2.4
        platform.pio.write(0x510, 1, 0x01);
        assertEquals('M', in(0x511, 1), "the selection and offset stayed");
        assertEquals(0x554d4551L, in(0x514, 4), "QEMU");
        assertEquals(0x47464320L, in(0x518, 4), " CFG");
        assertEquals(0x4d45, in(0x515, 2), "an unaligned 16-bit read in two bytes");
        assertEquals(0x4320554dL, in(0x516, 4), "an unaligned 32-bit read in two halves");
        assertEquals(0x47, in(0x51b, 1));
        assertEquals(0xffff4746L, in(0x51a, 4), "the last two bytes, then unassigned ports");
        assertEquals(0xffff, in(0x512, 2), "the gap before the DMA register");
        assertEquals(0x4551ffffL, in(0x512, 4), "the gap, then the DMA register");
        platform.pio.write(0x514, 2, 0x1234); // DMA register writes that are not 32-bit halves: dropped
        platform.pio.write(0x516, 4, 0x1234);
        assertEquals('U', in(0x511, 1));
    }

    @Test
    void dmaSelectsReadsAndSkips() {
        assertEquals(0, dma(0x1000, sel(FwCfgItems.SIGNATURE) | FwCfg.DMA_READ, 4, 0x2000));
        assertEquals("QEMU", ascii(ram.readBytes(0x2000, 4)));
        assertEquals(0, dma(0x1000, sel(FwCfgItems.KERNEL_DATA) | FwCfg.DMA_SKIP, 100, 0));
        assertEquals(0, dma(0x1000, FwCfg.DMA_READ, 150, 0x3000));
        assertArrayEquals(Arrays.copyOfRange(KERNEL, 100, 250), ram.readBytes(0x3000, 150));
        assertArrayEquals(Arrays.copyOfRange(KERNEL, 250, 254), readPorts(4), "ports continue where DMA ended");
        assertEquals(0, dma(0x1000, FwCfg.DMA_READ, 2, 0x3000));
        assertArrayEquals(Arrays.copyOfRange(KERNEL, 254, 256), ram.readBytes(0x3000, 2), "and DMA after ports");
    }

    @Test
    void dmaReadsPastTheEndAsZeros() {
        byte[] fill = new byte[16];
        Arrays.fill(fill, (byte) 0xaa);
        ram.write(0x2000, fill);
        assertEquals(0, dma(0x1000, sel(FwCfgItems.NB_CPUS) | FwCfg.DMA_READ, 8, 0x2000));
        assertEquals("0300000000000000aaaaaaaa", hex(ram.readBytes(0x2000, 12), 0, 12));
        ram.write(0x2000, fill);
        assertEquals(0, dma(0x1000, sel(0x3fff) | FwCfg.DMA_READ, 4, 0x2000), "a key that selects nothing");
        assertEquals("00000000aaaa", hex(ram.readBytes(0x2000, 6), 0, 6));
    }

    @Test
    void dmaWithoutAnOperationOnlySelects() {
        ram.write(0x2000, new byte[] {0x55});
        assertEquals(0, dma(0x1000, sel(FwCfgItems.ID), 4, 0x2000));
        assertEquals(0x55, ram.readByte(0x2000), "nothing transferred");
        assertArrayEquals(new byte[] {3, 0}, readPorts(2));
    }

    @Test
    void itemsAreReadOnly() {
        ram.write(0x2000, "XXXX".getBytes(StandardCharsets.US_ASCII));
        assertEquals(FwCfg.DMA_ERROR, dma(0x1000, sel(FwCfgItems.SIGNATURE) | FwCfg.DMA_WRITE, 4, 0x2000));
        assertEquals(FwCfg.DMA_ERROR, dma(0x1000, sel(0x30) | FwCfg.DMA_WRITE, 4, 0x2000), "an empty slot");
        select(0);
        assertEquals("QEMU", ascii(readPorts(4)));
    }

    @Test
    void aTargetOutsideRamGetsTheErrorBitAndOnlyItsRamPartsWritten() {
        assertEquals(FwCfg.DMA_ERROR, dma(0x1000, sel(FwCfgItems.KERNEL_DATA) | FwCfg.DMA_READ, 8, LOW_END - 4));
        assertArrayEquals(Arrays.copyOfRange(KERNEL, 0, 4), ram.readBytes(LOW_END - 4, 4));
        // Across the hole into the next region: the RAM after the hole is written too, as QEMU writes it.
        int across = (int) (HIGH - LOW_END) + 4;
        assertEquals(FwCfg.DMA_ERROR, dma(0x1000, sel(FwCfgItems.KERNEL_DATA) | FwCfg.DMA_READ, across + 4,
                LOW_END - 4));
        assertArrayEquals(Arrays.copyOfRange(KERNEL, 0, 4), ram.readBytes(LOW_END - 4, 4));
        assertArrayEquals(new byte[4], ram.readBytes(HIGH, 4), "past the kernel's 300 bytes: zeros");
        assertEquals(FwCfg.DMA_ERROR, dma(0x1000, sel(0) | FwCfg.DMA_READ, 4, 1L << 36));
        assertEquals(FwCfg.DMA_ERROR, dma(0x1000, sel(0) | FwCfg.DMA_READ, 4, 0xfee00000L), "the LAPIC's page");
    }

    @Test
    void aTargetThatWrapsPastTheTopNeverWritesLowMemory() {
        byte[] fill = new byte[0x200];
        Arrays.fill(fill, (byte) 0x5a);
        ram.write(0, fill);
        assertEquals(FwCfg.DMA_ERROR, dma(0x1000, sel(FwCfgItems.KERNEL_DATA) | FwCfg.DMA_READ, 0x100, -0x10L));
        assertArrayEquals(fill, ram.readBytes(0, 0x200));
        assertEquals(FwCfg.DMA_ERROR, dma(0x1000, sel(0x3fff) | FwCfg.DMA_READ, -1, -0x10L));
        assertArrayEquals(fill, ram.readBytes(0, 0x200));
    }

    @Test
    void theLongestZeroFillStopsAtTheEndOfRam() {
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            assertEquals(FwCfg.DMA_ERROR, dma(0x1000, sel(0x3fff) | FwCfg.DMA_READ, -1, HIGH + 16));
        });
        assertArrayEquals(new byte[16], ram.readBytes(HIGH_END - 16, 16));
    }

    @Test
    void aDescriptorOutsideRamIsIgnoredUnlessItsControlWordIsInRam() {
        start(2 << 20); // in the hole: nothing to read, nowhere to answer
        start(-8L);
        start(0xfee00000L);
        ram.writeInt(LOW_END - 8, Integer.reverseBytes(sel(0) | FwCfg.DMA_READ));
        start(LOW_END - 8); // the control word is RAM, the rest is not
        assertEquals(FwCfg.DMA_ERROR, Integer.reverseBytes(ram.readInt(LOW_END - 8)));
        assertEquals(0, dma(0x1000, sel(0) | FwCfg.DMA_READ, 4, 0x2000), "the device still works");
        assertEquals("QEMU", ascii(ram.readBytes(0x2000, 4)));
    }

    @Test
    void theDescriptorsAddressIsOneTransferLong() {
        // Written high half first as the spec says; a low half alone after a transfer starts at the low address.
        writeDescriptor(0x1000, sel(0) | FwCfg.DMA_READ, 4, 0x2000);
        platform.pio.write(0x518, 4, Integer.reverseBytes(0x1000));
        assertEquals(0, Integer.reverseBytes(ram.readInt(0x1000)));
        assertEquals("QEMU", ascii(ram.readBytes(0x2000, 4)));
        writeDescriptor(0x1000, sel(FwCfgItems.ID) | FwCfg.DMA_READ, 4, 0x2000);
        platform.pio.write(0x514, 4, Integer.reverseBytes(1)); // 4 GiB up: outside RAM
        platform.pio.write(0x518, 4, Integer.reverseBytes(0x1000));
        assertEquals(sel(FwCfgItems.ID) | FwCfg.DMA_READ, Integer.reverseBytes(ram.readInt(0x1000)), "not run");
        platform.pio.write(0x518, 4, Integer.reverseBytes(0x1000));
        assertEquals(0, Integer.reverseBytes(ram.readInt(0x1000)), "the high half was used once");
    }

    @Test
    void loadReplacesWhatIsServed() {
        fwCfg.load(FwCfgItems.builder().i16(FwCfgItems.NB_CPUS, 7).build());
        select(FwCfgItems.NB_CPUS);
        assertArrayEquals(new byte[] {7, 0}, readPorts(2));
        select(0);
        assertArrayEquals(new byte[4], readPorts(4));
    }

    @Test
    void portAccessesAllocateNothing() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (int round = 0; round < 3; round++) {
            long before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 20_000; i++) {
                platform.pio.write(0x510, 2, FwCfgItems.KERNEL_DATA);
                sum += platform.pio.read(0x511, 1) + platform.pio.read(0x514, 4) + platform.pio.read(0x510, 4);
            }
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            if (round == 2) {
                assertEquals(0, allocated, "bytes allocated by 80,000 port accesses");
            }
        }
        assertEquals(3 * 20_000L * (1 + 0x554d4551L), sum);
    }
}
