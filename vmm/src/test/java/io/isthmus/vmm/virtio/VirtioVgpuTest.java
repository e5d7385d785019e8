package io.isthmus.vmm.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import io.isthmus.sched.engine.Kernel;
import io.isthmus.sched.vgpu.VgpuContext;
import io.isthmus.sched.vgpu.VgpuOp;
import io.isthmus.sched.vgpu.VgpuStatus;
import io.isthmus.sched.vgpu.VgpuWire;
import io.isthmus.vmm.vgpu.VgpuHosts;

/**
 * The vGPU device driven as its guest driver drives it (docs/vgpu-device.md), on the real host engine: requests and
 * completions through the ring, real data through guest RAM, and the hostile cases.
 */
class VirtioVgpuTest {
    static final int F_NEXT = 1, F_WRITE = 2;
    static final long REQ = TestDriver.DATA, CPL = TestDriver.DATA + 0x10000, BUF = TestDriver.DATA + 0x20000;
    static final long MEMORY = 1L << 20;

    static VirtioVgpu vgpu(int weight) {
        return new VirtioVgpu(VgpuHosts.acquire("host"), weight, 100, MEMORY, null);
    }

    /** One request as descriptors {@code 2i} (request) and {@code 2i+1} (completion); returns the head. */
    static int submit(TestDriver d, int i, int op, int kernel, long tag, long... words) {
        long req = REQ + 64L * i, cpl = CPL + 32L * i;
        d.memory.writeInt(req + VgpuWire.OP, op);
        d.memory.writeInt(req + VgpuWire.KERNEL, kernel);
        d.memory.writeLong(req + VgpuWire.TAG, tag);
        for (int w = 0; w < 6; w++) {
            d.memory.writeLong(req + VgpuWire.WORDS + 8L * w, w < words.length ? words[w] : 0);
        }
        d.memory.writeLong(cpl + VgpuWire.C_TAG, -1);
        d.memory.writeInt(cpl + VgpuWire.C_STATUS, -2);
        int head = (2 * i) % d.size;
        d.desc(head, req, 64, F_NEXT, head + 1);
        d.desc(head + 1, cpl, 32, F_WRITE, 0);
        d.publish(head);
        return head;
    }

    /** Waits for the next used entry (the scheduler's thread writes it); returns its head. */
    static int await(TestDriver d) throws InterruptedException {
        long until = System.nanoTime() + 10_000_000_000L;
        while (!d.hasUsed()) {
            if (System.nanoTime() > until) {
                throw new AssertionError("no completion in 10 s; errors " + d.errors);
            }
            Thread.sleep(1);
        }
        return d.nextUsed();
    }

    static int status(TestDriver d, int i) {
        return d.memory.readInt(CPL + 32L * i + VgpuWire.C_STATUS);
    }

    static long result(TestDriver d, int i) {
        return d.memory.readLong(CPL + 32L * i + VgpuWire.C_RESULT);
    }

    /** Runs request {@code i} to completion and returns its status. */
    static int run(TestDriver d, int i, int op, int kernel, long... words) throws InterruptedException {
        int head = submit(d, i, op, kernel, 1000 + i, words);
        d.kick();
        assertEquals(head, await(d));
        assertEquals(VgpuWire.COMPLETION_BYTES, d.lastUsedLength);
        assertEquals(1000 + i, d.memory.readLong(CPL + 32L * i + VgpuWire.C_TAG), "the tag comes back");
        return status(d, i);
    }

    @Test
    void presentsItself() {
        try (TestDriver d = new TestDriver(vgpu(3)).start()) {
            assertEquals(VirtioVgpu.DEVICE_ID, d.reg(0x008));
            assertEquals(VirtioVgpu.QUEUE_SIZE, d.reg(VirtioMmioTransport.QUEUE_NUM_MAX));
            long cfg = 0x100;
            assertEquals((int) MEMORY, d.reg((int) cfg));
            assertEquals(0, d.reg((int) cfg + 4));
            assertEquals(3, d.reg((int) cfg + 8));
            assertEquals(100, d.reg((int) cfg + 12));
            assertEquals(0b11110, d.reg((int) cfg + 16));
            assertEquals(64 | 32 << 16, d.reg((int) cfg + 20));
            assertTrue(d.errors.isEmpty(), d.errors.toString());
        }
    }

    @Test
    void saxpyRoundTripsThroughGuestRam() throws InterruptedException {
        try (TestDriver d = new TestDriver(vgpu(1)).start()) {
            int n = 1000;
            float a = 2.5f;
            for (int k = 0; k < n; k++) {
                d.memory.writeInt(BUF + 4L * k, Float.floatToRawIntBits(k * 0.5f));
                d.memory.writeInt(BUF + 0x4000 + 4L * k, Float.floatToRawIntBits(1.0f - k));
            }
            assertEquals(VgpuStatus.OK, run(d, 0, VgpuOp.ALLOC, 0, 4L * n));
            long x = result(d, 0);
            assertEquals(VgpuStatus.OK, run(d, 1, VgpuOp.ALLOC, 0, 4L * n));
            long y = result(d, 1);
            assertNotEquals(0, x);
            assertNotEquals(x, y);
            assertEquals(VgpuStatus.OK, run(d, 2, VgpuOp.COPY_IN, 0, BUF, x, 0, 4L * n));
            assertEquals(VgpuStatus.OK, run(d, 3, VgpuOp.COPY_IN, 0, BUF + 0x4000, y, 0, 4L * n));
            assertEquals(VgpuStatus.OK, run(d, 4, VgpuOp.LAUNCH, Kernel.SAXPY.id(), n,
                    Float.floatToRawIntBits(a), x, y));
            assertEquals(VgpuStatus.OK, run(d, 5, VgpuOp.COPY_OUT, 0, BUF + 0x8000, y, 0, 4L * n));
            assertEquals(VgpuStatus.OK, run(d, 6, VgpuOp.FENCE, 0));
            for (int k = 0; k < n; k++) {
                float want = Math.fma(a, k * 0.5f, 1.0f - k);
                assertEquals(want, Float.intBitsToFloat(d.memory.readInt(BUF + 0x8000 + 4L * k)), "y[" + k + "]");
            }
            assertTrue(d.memory.readLong(CPL + 32L * 4 + VgpuWire.C_GPU_NANOS) > 0, "the launch's device time");
            assertTrue(d.errors.isEmpty(), d.errors.toString());
        }
    }

    @Test
    void badRequestsGetErrorCompletions() throws InterruptedException {
        try (TestDriver d = new TestDriver(vgpu(1)).start()) {
            assertEquals(VgpuStatus.OK, run(d, 0, VgpuOp.ALLOC, 0, 4096));
            long h = result(d, 0);
            assertEquals(VgpuStatus.BAD_HANDLE, run(d, 1, VgpuOp.COPY_IN, 0, BUF, h + 1, 0, 16));
            assertEquals(VgpuStatus.BAD_GUEST_ADDRESS, run(d, 2, VgpuOp.COPY_IN, 0, TestDriver.RAM - 8, h, 0, 16));
            assertEquals(VgpuStatus.BAD_GUEST_ADDRESS, run(d, 3, VgpuOp.COPY_OUT, 0, -8L, h, 0, 16));
            assertEquals(VgpuStatus.OUT_OF_BOUNDS, run(d, 4, VgpuOp.COPY_OUT, 0, BUF, h, 4090, 16));
            assertEquals(VgpuStatus.OUT_OF_MEMORY, run(d, 5, VgpuOp.ALLOC, 0, MEMORY));
            assertEquals(VgpuStatus.BAD_OP, run(d, 6, 77, 0));
            assertEquals(VgpuStatus.BAD_KERNEL, run(d, 7, VgpuOp.LAUNCH, 99));
            assertEquals(VgpuStatus.BAD_HANDLE, run(d, 8, VgpuOp.FREE, 0, 12345));

            // A request shorter than 64 bytes is answered BAD_ARGUMENT without being run.
            d.desc(20, REQ, 63, F_NEXT, 21);
            d.desc(21, CPL + 32 * 10, 32, F_WRITE, 0);
            d.publish(20);
            d.kick();
            assertEquals(20, await(d));
            assertEquals(VgpuStatus.BAD_ARGUMENT, status(d, 10));
            assertFalse(d.broken());

            // Still serving: the allocation made first is intact.
            assertEquals(VgpuStatus.OK, run(d, 11, VgpuOp.FREE, 0, h));
            assertTrue(d.errors.isEmpty(), d.errors.toString());
        }
    }

    @Test
    void aChainWithoutRoomForItsCompletionBreaksTheDevice() {
        try (TestDriver d = new TestDriver(vgpu(1)).start()) {
            d.desc(0, REQ, 64, F_NEXT, 1);
            d.desc(1, CPL, 16, F_WRITE, 0); // too short for a completion
            d.publish(0);
            d.kick();
            assertTrue(d.broken());
            assertEquals(1, d.errors.size(), d.errors.toString());
            assertTrue(d.errors.get(0).contains("device-writable buffer of 32 bytes"), d.errors.get(0));
        }
    }

    @Test
    void resetWithRequestsInFlightFreesTheVgpuAndWritesNothingAfter() throws InterruptedException {
        VirtioVgpu dev = vgpu(1);
        try (TestDriver d = new TestDriver(dev).start()) {
            assertEquals(VgpuStatus.OK, run(d, 0, VgpuOp.ALLOC, 0, MEMORY)); // the whole quota
            for (int i = 1; i <= 8; i++) {
                submit(d, i, VgpuOp.LAUNCH, Kernel.SPIN.id(), 2000 + i, 20_000);
            }
            d.kick();
            long t0 = System.nanoTime();
            d.reg(VirtioMmioTransport.STATUS, 0); // reset with spins queued
            assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "reset waited for the queued work");
            assertNull(dev.context());
            int seen = d.usedIdx();
            Thread.sleep(200);
            assertEquals(seen, d.usedIdx(), "a completion reached the ring after the reset");
            for (int i = 1; i <= 8; i++) {
                int s = status(d, i);
                assertTrue(s == -2 || s == VgpuStatus.OK, "request " + i + " status " + s);
            }

            // Again from the start, on zeroed rings as a driver allocates them: a fresh vGPU whose memory is all free.
            d.memory.write(TestDriver.AVAIL, new byte[0x2000]);
            d.start();
            assertEquals(VgpuStatus.OK, run(d, 0, VgpuOp.ALLOC, 0, MEMORY));
            assertTrue(d.errors.isEmpty(), d.errors.toString());
        }
    }

    @Test
    void aResetDoesNotForgiveWhatTheVgpuOwes() throws InterruptedException {
        // A 50 ms kernel overruns its turn (a few ms) by ~48 ms, which its later turns owe; a reset closes that vGPU and
        // the set-up after it opens another, which must start with the same debt (and the reset's cost on top), or a
        // guest resetting after each long kernel would take the engine from everyone else.
        VirtioVgpu dev = vgpu(1);
        try (TestDriver d = new TestDriver(dev).start()) {
            assertEquals(VgpuStatus.OK, run(d, 0, VgpuOp.LAUNCH, Kernel.SPIN.id(), 50_000));
            long before = debt(dev);
            assertTrue(before > 40_000_000L, "a 50 ms kernel in a turn of a few ms leaves a debt; got " + before);
            d.reg(VirtioMmioTransport.STATUS, 0);
            d.memory.write(TestDriver.AVAIL, new byte[0x2000]);
            d.start();
            long after = debt(dev);
            assertTrue(after >= before && after < before + 50_000_000L, "owed " + before + " ns before the reset, "
                    + after + " after");
        }
    }

    private static long debt(VirtioVgpu dev) {
        VgpuContext c = dev.context();
        long[] d = new long[1];
        try (VgpuHosts.Lease l = VgpuHosts.acquire("host")) {
            l.host().runOnSchedulerThread(() -> d[0] = l.host().scheduler().debtNanos(c.vgpu()));
        }
        return d[0];
    }

    @Test
    void requestsTakenBeforeTheQueueWasReenabledNeverReachItsNewRing() throws InterruptedException {
        // A hostile driver turns its queue off with kernels in flight (some finish while it is off) and on again:
        // the device must go on answering the new ring, in order, with nothing of the old one, and the shared
        // scheduler's thread (which completes every machine's requests) must survive it.
        VirtioVgpu dev = vgpu(1);
        try (TestDriver d = new TestDriver(dev).start()) {
            for (int i = 0; i < 8; i++) {
                submit(d, i, VgpuOp.LAUNCH, Kernel.SPIN.id(), 3000 + i, 20_000);
            }
            d.kick();
            d.reg(VirtioMmioTransport.QUEUE_SEL, 0);
            d.reg(VirtioMmioTransport.QUEUE_READY, 0);
            Thread.sleep(50); // two or three spins complete while the queue is off
            d.memory.write(TestDriver.AVAIL, new byte[0x2000]);
            d.setupQueue(d.size);
            assertEquals(VgpuStatus.OK, run(d, 8, VgpuOp.FENCE, 0)); // after every spin, in submission order
            Thread.sleep(50);
            assertEquals(1, d.usedIdx(), "only the new ring's request was answered on it");
            assertEquals(VgpuStatus.BAD_OP, run(d, 9, 99, 0));
            assertTrue(d.errors.isEmpty(), d.errors.toString());
        }
        // Another vGPU on the same host still gets its completions: the scheduler's thread is alive.
        try (TestDriver d = new TestDriver(vgpu(2)).start()) {
            assertEquals(VgpuStatus.OK, run(d, 0, VgpuOp.FENCE, 0));
        }
    }

    @Test
    void vgpusOfOneEngineShareOneHost() {
        try (VgpuHosts.Lease a = VgpuHosts.acquire("host"); VgpuHosts.Lease b = VgpuHosts.acquire("host")) {
            assertTrue(a.host() == b.host());
        }
    }
}
