package io.isthmus.vmm.virtio;

import static io.isthmus.vmm.virtio.VirtioMmioTransport.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

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
