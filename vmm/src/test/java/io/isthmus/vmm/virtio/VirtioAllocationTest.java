package io.isthmus.vmm.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The per-request path allocates nothing once compiled: a request's whole life (the driver's descriptors and
 * notification, the transport, the ring, the chain walk, the file I/O straight into guest RAM, the used ring, the
 * interrupt) runs on this thread, whose allocated-bytes counter is read around windows of requests. The
 * interpreter and C1 allocate in the FFM and VarHandle plumbing that C2 removes, so the property is that some
 * window within the first 200 allocates nothing (as kvm's HotPathAllocationTest).
 */
class VirtioAllocationTest {
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    private static final int F_NEXT = 1, F_WRITE = 2, WINDOW = 2000;
    private static final long HEADER = TestDriver.DATA, STATUS = TestDriver.DATA + 0x100;
    private static final long BUF = TestDriver.DATA + 0x10000;

    @TempDir
    Path dir;

    @Test
    void blockRequestsAllocateNothing() throws IOException {
        Path img = dir.resolve("disk.img");
        Files.write(img, new byte[1 << 20]);
        try (TestDriver d = new TestDriver(VirtioBlk.open(img, false, "alloc")).start()) {
            long allocated = -1;
            int window = 0;
            for (; window < 200 && allocated != 0; window++) {
                long before = THREADS.getCurrentThreadAllocatedBytes();
                blockWindow(d, window);
                allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
            }
            assertEquals(0, allocated, "bytes allocated by the last " + WINDOW + " requests of " + window
                    + " windows");
            assertFalse(d.broken(), d.errors.toString());
        }
    }

    /** Reads, writes, GET_IDs (and a flush per window) of 4 KiB at rotating sectors, each completed and acknowledged. */
    private static void blockWindow(TestDriver d, int window) {
        for (int i = 0; i < WINDOW; i++) {
            int type = i == 0 ? VirtioBlk.T_FLUSH : i % 3 == 0 ? VirtioBlk.T_OUT : i % 3 == 1 ? VirtioBlk.T_IN
                    : VirtioBlk.T_GET_ID;
            d.memory.writeInt(HEADER, type);
            d.memory.writeLong(HEADER + 8, (i * 8L) % 2040);
            int a = d.alloc(), b = d.alloc(), c = d.alloc();
            d.desc(a, HEADER, 16, F_NEXT, b);
            d.desc(b, BUF, 4096, F_NEXT | (type == VirtioBlk.T_OUT ? 0 : F_WRITE), c);
            d.desc(c, STATUS, 1, F_WRITE, 0);
            d.publish(a);
            d.kick();
            if (d.nextUsed() != a || d.memory.readByte(STATUS) != 0) {
                throw new AssertionError("request " + i + " of window " + window + " failed");
            }
            d.acknowledge();
        }
    }

    @Test
    void entropyRequestsAllocateNothing() {
        try (TestDriver d = new TestDriver(new VirtioRng()).start()) {
            long allocated = -1;
            int window = 0;
            for (; window < 200 && allocated != 0; window++) {
                long before = THREADS.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < WINDOW; i++) {
                    int a = d.alloc();
                    d.desc(a, BUF, 64, F_WRITE, 0);
                    d.publish(a);
                    d.kick();
                    if (d.nextUsed() != a || d.lastUsedLength != 64) {
                        throw new AssertionError("request " + i + " failed");
                    }
                    d.acknowledge();
                }
                allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
            }
            assertEquals(0, allocated, "bytes allocated by the last " + WINDOW + " requests of " + window
                    + " windows");
        }
    }
}
