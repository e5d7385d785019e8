package io.isthmus.vmm.virtio;

import static io.isthmus.vmm.virtio.VirtioMmioTransport.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import io.isthmus.kvm.memory.GuestMemory;

/** The virtio-mmio register block, negotiation, status, queue setup, interrupts, reset and close. */
class VirtioMmioTransportTest {

    /** A device that records what the transport asks of it. */
    static final class FakeDevice implements VirtioDevice {
        final List<String> calls = new ArrayList<>();
        long activatedFeatures = -1;
        final byte[] config = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

        @Override
        public int deviceId() {
            return 42;
        }

        @Override
        public long features() {
            return 0x5L | Virtio.bit(40); // two device bits and one high bit
        }

        @Override
        public int queueCount() {
            return 2;
        }

        @Override
        public int queueMaxSize(int index) {
            return index == 0 ? 64 : 16;
        }

        @Override
        public int configSize() {
            return config.length;
        }

        @Override
        public long readConfig(int offset, int size) {
            long v = 0;
            for (int i = size - 1; i >= 0; i--) {
                v = v << 8 | (config[offset + i] & 0xFF);
            }
            return v;
        }

        @Override
        public void writeConfig(int offset, int size, long value) {
            calls.add("writeConfig " + offset + " " + size + " " + value);
        }

        @Override
        public void activate(GuestMemory memory, long features, Virtqueue[] queues) {
            activatedFeatures = features;
            calls.add("activate " + queues.length);
        }

        @Override
        public void queueNotify(int index) {
            calls.add("notify " + index);
        }

        @Override
        public void reset() {
            calls.add("reset");
        }

        @Override
        public void close() {
            calls.add("close");
        }
    }

    private final FakeDevice dev = new FakeDevice();
    private final TestDriver d = new TestDriver(dev);

    @AfterEach
    void close() {
        d.close();
    }

    @Test
    void identification() {
        assertEquals(0x74726976, d.reg(0x000), "magic 'virt'");
        assertEquals(2, d.reg(0x004), "version 2: virtio 1.x");
        assertEquals(42, d.reg(0x008));
        assertEquals(0x554D4551, d.reg(0x00c), "vendor 'QEMU'");
        assertEquals(0, d.reg(CONFIG_GENERATION));
        assertEquals(-1, d.reg(SHM_LEN_LOW), "no shared memory region");
        assertEquals(-1, d.reg(SHM_BASE_HIGH));
        assertEquals(0, d.transport.read(0x000, 2), "registers take 32-bit accesses only");
        assertEquals(0, d.transport.read(0x001, 4));
        assertEquals(0, d.reg(QUEUE_NUM), "write-only registers read 0");
    }

    @Test
    void offersTheDeviceFeaturesAndTheTransportsOwn() {
        assertEquals(0x5L | Virtio.bit(40) | Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(Virtio.F_INDIRECT_DESC)
                | Virtio.bit(Virtio.F_EVENT_IDX), d.deviceFeatures());
        d.reg(DEVICE_FEATURES_SEL, 2);
        assertEquals(0, d.reg(DEVICE_FEATURES));
    }

    @Test
    void queueGeometry() {
        d.reg(QUEUE_SEL, 0);
        assertEquals(64, d.reg(QUEUE_NUM_MAX));
        d.reg(QUEUE_SEL, 1);
        assertEquals(16, d.reg(QUEUE_NUM_MAX));
        d.reg(QUEUE_SEL, 2);
        assertEquals(0, d.reg(QUEUE_NUM_MAX), "no queue 2: Linux stops looking");
        assertEquals(0, d.reg(QUEUE_READY));
    }

    @Test
    void negotiationAndActivation() {
        long wanted = Virtio.bit(Virtio.F_VERSION_1) | 0x1;
        assertTrue(d.negotiate(wanted));
        d.setupQueue(64);
        assertEquals(1, d.reg(QUEUE_READY));
        d.driverOk();
        assertEquals(Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER | Virtio.STATUS_FEATURES_OK
                | Virtio.STATUS_DRIVER_OK, d.reg(STATUS));
        assertEquals(wanted, dev.activatedFeatures);
        d.kick();
        d.reg(QUEUE_NOTIFY, 1); // queue 1 is not ready: ignored
        d.reg(QUEUE_NOTIFY, 7); // no such queue: ignored
        assertEquals(List.of("reset", "activate 2", "notify 0"), dev.calls);
        assertFalse(d.broken());
    }

    @Test
    void legacyDriverIsRefused() {
        assertFalse(d.negotiate(0x1), "FEATURES_OK does not stick without VERSION_1");
        assertFalse(d.broken());
        assertTrue(d.errors.get(0).contains("VIRTIO_F_VERSION_1"), d.errors.toString());
        d.driverOk();
        assertTrue(d.broken(), "DRIVER_OK after refused features");
        assertEquals(-1, dev.activatedFeatures, "never activated");
    }

    @Test
    void featuresNotOfferedAreRefused() {
        assertFalse(d.negotiate(Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(20)));
        assertTrue(d.errors.get(0).contains("did not offer"), d.errors.toString());
    }

    @Test
    void driverFeaturesAreFixedAfterFeaturesOk() {
        assertTrue(d.negotiate(Virtio.bit(Virtio.F_VERSION_1)));
        d.reg(DRIVER_FEATURES_SEL, 0);
        d.reg(DRIVER_FEATURES, 0x5);
        d.setupQueue(64);
        d.driverOk();
        assertEquals(Virtio.bit(Virtio.F_VERSION_1), dev.activatedFeatures);
    }

    @Test
    void readyQueueConfigurationIsFixed() {
        d.negotiate(d.deviceFeatures());
        d.setupQueue(64);
        d.reg(QUEUE_NUM, 8); // ignored while ready
        d.reg(QUEUE_DESC_LOW, 0x8000);
        d.reg(QUEUE_READY, 0);
        assertEquals(0, d.reg(QUEUE_READY));
        d.reg(QUEUE_NUM, 3);
        d.reg(QUEUE_READY, 1);
        assertTrue(d.broken(), "the new size 3 was taken once not ready, and refused");
    }

    @Test
    void interruptLineFollowsInterruptStatus() {
        // Raise the line with a configuration change interrupt (a broken device), then acknowledge bit by bit.
        d.start();
        d.reg(STATUS, d.reg(STATUS)); // no new bits: nothing happens
        assertFalse(d.line);
        d.reg(QUEUE_SEL, 1);
        d.reg(QUEUE_NUM, 5); // queue 1 is not ready: it may be reconfigured
        d.reg(QUEUE_READY, 1); // a bad size: broken, config interrupt
        assertTrue(d.line);
        assertEquals(INT_CONFIG, d.reg(INTERRUPT_STATUS));
        d.reg(INTERRUPT_ACK, INT_USED_BUFFER);
        assertTrue(d.line, "acknowledging another bit keeps the line up");
        d.reg(INTERRUPT_ACK, INT_CONFIG);
        assertFalse(d.line);
        assertEquals(0, d.reg(INTERRUPT_STATUS));
        assertEquals(1, d.raised);
    }

    @Test
    void statusZeroResets() {
        d.start();
        d.reg(STATUS, 0);
        assertEquals(0, d.reg(STATUS));
        d.reg(QUEUE_SEL, 0);
        assertEquals(0, d.reg(QUEUE_READY));
        assertEquals(List.of("reset", "activate 2", "reset"), dev.calls);
        d.kick();
        assertFalse(d.broken(), "a notification to a reset device is ignored");
        assertEquals(List.of("reset", "activate 2", "reset"), dev.calls);
    }

    @Test
    void configurationSpace() {
        assertEquals(0x04030201, d.reg(CONFIG));
        assertEquals(0x0605, d.transport.read(CONFIG + 4, 2));
        assertEquals(0x0A09080706050403L, d.transport.read(CONFIG + 2, 8));
        assertEquals(-1L, d.transport.read(CONFIG + 8, 4), "past the end: all ones");
        d.transport.write(CONFIG + 1, 1, 0x77);
        d.transport.write(CONFIG + 9, 2, 0x77); // past the end: ignored
        assertEquals(List.of("writeConfig 1 1 119"), dev.calls);
    }

    /** A device whose queueNotify waits, to hold a request in flight. */
    static final class SlowDevice implements VirtioDevice {
        final List<String> calls = Collections.synchronizedList(new ArrayList<>());
        final CountDownLatch inside = new CountDownLatch(1), release = new CountDownLatch(1);
        private final FakeDevice shape = new FakeDevice();

        @Override
        public int deviceId() {
            return shape.deviceId();
        }

        @Override
        public long features() {
            return shape.features();
        }

        @Override
        public int queueCount() {
            return shape.queueCount();
        }

        @Override
        public int queueMaxSize(int index) {
            return shape.queueMaxSize(index);
        }

        @Override
        public int configSize() {
            return shape.configSize();
        }

        @Override
        public long readConfig(int offset, int size) {
            return shape.readConfig(offset, size);
        }

        @Override
        public void writeConfig(int offset, int size, long value) {
        }

        @Override
        public void activate(GuestMemory memory, long features, Virtqueue[] queues) {
            calls.add("activate");
        }

        @Override
        public void queueNotify(int index) {
            calls.add("notify start");
            inside.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            calls.add("notify end");
        }

        @Override
        public void reset() {
            calls.add("reset");
        }

        @Override
        public void close() {
            calls.add("close");
        }
    }

    /**
     * The locking contract: a reset waits for the request in flight and never overlaps the device's processing,
     * while other vCPUs' reads of the interrupt status, the status and the configuration do not wait for it.
     */
    @Test
    void resetWaitsForTheRequestInFlightAndReadsDoNot() throws Exception {
        SlowDevice slow = new SlowDevice();
        try (TestDriver t = new TestDriver(slow)) {
            t.start();
            Thread vcpu0 = Thread.ofPlatform().start(t::kick);
            assertTrue(slow.inside.await(10, TimeUnit.SECONDS));
            Thread vcpu1 = Thread.ofPlatform().start(() -> t.reg(STATUS, 0));
            vcpu1.join(200);
            assertTrue(vcpu1.isAlive(), "the reset waits for the request");
            assertEquals(0, t.reg(INTERRUPT_STATUS));
            assertEquals(15, t.reg(STATUS));
            assertEquals(0x04030201, t.reg(CONFIG));
            slow.release.countDown();
            vcpu0.join(10_000);
            vcpu1.join(10_000);
            assertEquals(List.of("reset", "activate", "notify start", "notify end", "reset"), slow.calls);
            assertEquals(0, t.reg(STATUS));
        }
    }

    /** Two vCPUs notifying the same queue at once: each request is used exactly once, in order. */
    @Test
    void concurrentNotificationsUseEachRequestOnce() throws Exception {
        try (TestDriver t = new TestDriver(new VirtioRng()).start()) {
            AtomicBoolean done = new AtomicBoolean();
            Runnable kicker = () -> {
                while (!done.get()) {
                    t.kick();
                }
            };
            Thread a = Thread.ofPlatform().start(kicker), b = Thread.ofPlatform().start(kicker);
            try {
                for (int i = 0; i < 2000; i++) {
                    int head = i % t.size;
                    t.desc(head, TestDriver.DATA + 64L * head, 32, 2, 0);
                    t.publish(head);
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                    while (!t.hasUsed()) {
                        assertTrue(System.nanoTime() < deadline, "request " + i + " never used");
                        Thread.onSpinWait();
                    }
                    assertEquals(head, t.nextUsed());
                    assertEquals(32, t.lastUsedLength);
                    assertFalse(t.hasUsed(), "used once");
                }
            } finally {
                done.set(true);
                a.join();
                b.join();
            }
            assertFalse(t.broken(), t.errors.toString());
        }
    }

    @Test
    void closeClosesTheDeviceOnceAndStopsProcessing() {
        d.start();
        d.transport.close();
        d.transport.close();
        d.kick();
        assertEquals(List.of("reset", "activate 2", "close"), dev.calls);
        assertEquals(0x74726976, d.reg(0x000), "registers still answer");
    }
}
