package io.isthmus.vmm.virtio;

import static io.isthmus.vmm.virtio.VirtioMmioTransport.INTERRUPT_STATUS;
import static io.isthmus.vmm.virtio.VirtioMmioTransport.QUEUE_NUM_MAX;
import static io.isthmus.vmm.virtio.VirtioMmioTransport.STATUS;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.isthmus.vmm.FuzzCoverage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A hostile virtio driver decoded from the fuzzer's bytes, against virtio-blk (on a small scratch file) and
 * virtio-rng behind the virtio-mmio transport: feature negotiation and queue set-up with any values, then
 * descriptors with any address, length, flags and next index (chains, loops, indirect tables, addresses across the
 * end of RAM), available-ring entries and indices, notifications, raw register reads and writes, interrupt
 * acknowledges and resets, interleaved. Nothing may escape the bus methods (a bad chain marks the device
 * DEVICE_NEEDS_RESET instead), every used entry has a sane id and length, the interrupt status stays within its two
 * bits, and the disk never grows (a write past its end is refused). Guest memory is bounds-checked, so a write outside RAM would
 * fail the input. Corpus: {@code src/test/resources/io/isthmus/vmm/virtio/VirtioFuzzTestInputs/<method>/}.
 */
@ExtendWith(FuzzCoverage.class)
class VirtioFuzzTest {
    /** Operations per input at most. */
    static final int MAX_OPS = 512;
    /** The scratch disk: 64 sectors, shared by the inputs (what they write to it does not matter). */
    private static final Path DISK;

    static {
        try {
            DISK = Files.createTempFile("virtio-fuzz", ".img");
            Files.write(DISK, new byte[64 * VirtioBlk.SECTOR]);
            DISK.toFile().deleteOnExit();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest
    void blk(FuzzedDataProvider d) throws IOException {
        drive(d, new TestDriver(VirtioBlk.open(DISK, d.consumeBoolean(), d.consumeBoolean() ? "fuzz" : null)));
    }

    @FuzzTest
    void rng(FuzzedDataProvider d) {
        drive(d, new TestDriver(new VirtioRng()));
    }

    /** A guest address: mostly inside the test's RAM layout, sometimes anywhere (across the end, above 4 GiB). */
    private static long address(FuzzedDataProvider d) {
        return switch (d.consumeInt(0, 3)) {
            case 0 -> TestDriver.DATA + d.consumeInt(0, 0x20000);
            case 1 -> TestDriver.TABLES + 16L * d.consumeInt(0, 64);
            case 2 -> TestDriver.RAM - d.consumeInt(0, 0x1000);
            default -> {
                // Anywhere, but not over the rings themselves: a device told to write its data there would
                // legitimately scramble what this driver reads back.
                long a = d.consumeLong();
                yield a >= 0 && a < TestDriver.TABLES ? TestDriver.DATA + a : a;
            }
        };
    }

    private static void drive(FuzzedDataProvider d, TestDriver t) {
        try {
            if (d.consumeBoolean()) {
                t.start(d.consumeLong());
            } else {
                t.negotiate(d.consumeBoolean() ? t.deviceFeatures() : d.consumeLong());
                int max = t.reg(QUEUE_NUM_MAX);
                t.setupQueue(d.consumeInt(0, Math.max(1, max)));
                t.driverOk();
            }
        } catch (AssertionError refused) {
            // start() asserts the features stuck; a refused set is a driver error the device handled.
        }
        for (int n = 0; n < MAX_OPS && d.remainingBytes() > 0; n++) {
            int size = Math.max(1, t.size);
            switch (d.consumeInt(0, 9)) {
                case 0, 1 -> t.desc(d.consumeInt(0, size - 1), address(d), d.consumeInt(), d.consumeInt(0, 7),
                        d.consumeInt(0, 0xffff));
                case 2 -> t.descAt(TestDriver.TABLES, d.consumeInt(0, 63), address(d), d.consumeInt(),
                        d.consumeInt(0, 7), d.consumeInt(0, 0xffff));
                case 3 -> {
                    if (t.size > 0) { // (the driver's own ring arithmetic needs a size; a zero-sized queue gets raw indices)
                        t.publish(d.consumeInt(0, 0xffff));
                    } else {
                        t.setAvailIdx(d.consumeInt(0, 0xffff));
                    }
                }
                case 4 -> t.setAvailIdx(d.consumeInt(0, 0xffff));
                case 5 -> t.kick();
                case 6 -> t.reg(d.consumeInt(0, 0x1ff) & ~3, d.consumeInt());
                case 7 -> {
                    int s = t.reg(INTERRUPT_STATUS);
                    if ((s & ~3) != 0) {
                        throw new AssertionError("InterruptStatus 0x" + Integer.toHexString(s));
                    }
                    t.acknowledge();
                }
                case 8 -> {
                    // A request header where the chains usually point: type, reserved, sector.
                    t.memory.writeInt(TestDriver.DATA, d.pickValue(new int[] {VirtioBlk.T_IN, VirtioBlk.T_OUT,
                            VirtioBlk.T_FLUSH, VirtioBlk.T_GET_ID, d.consumeInt()}));
                    t.memory.writeLong(TestDriver.DATA + 8, d.consumeBoolean() ? d.consumeLong(0, 70)
                            : d.consumeLong());
                }
                default -> {
                    if (d.consumeBoolean()) {
                        t.reg(STATUS, 0);
                    } else {
                        t.transport.read(d.consumeInt(0, 0x1ff), d.pickValue(new int[] {1, 2, 4, 8}));
                    }
                }
            }
            while (t.size > 0 && t.hasUsed()) {
                int id = t.nextUsed();
                // (Raw register writes may have resized the queue behind the driver's back: the bound is the
                // largest queue.)
                if (id < 0 || id >= Virtqueue.MAX_SIZE) {
                    throw new AssertionError("used id " + id);
                }
                if (t.lastUsedLength < 0) {
                    throw new AssertionError("used length " + t.lastUsedLength);
                }
            }
        }
        t.close();
        try {
            if (Files.size(DISK) != 64 * VirtioBlk.SECTOR) {
                throw new AssertionError("the disk grew to " + Files.size(DISK) + " bytes");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
