package io.isthmus.vmm.virtio;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.vmm.device.IrqLine;

/**
 * A virtio-mmio transport, version 2 (virtio 1.2, 4.2): the register block a driver finds at one MMIO address,
 * in front of one {@link VirtioDevice}. Insert it on the MMIO bus with {@link #SIZE} bytes.
 *
 * <pre>
 *   0x000 MagicValue "virt"     0x030 QueueSel          0x070 Status             0x0ac SHMSel
 *   0x004 Version (2)           0x034 QueueNumMax       0x080 QueueDescLow/High  0x0b0 SHMLen (none: ~0)
 *   0x008 DeviceID              0x038 QueueNum          0x090 QueueDriverLow/Hi  0x0b8 SHMBase (none: ~0)
 *   0x00c VendorID ("QEMU")     0x044 QueueReady        0x0a0 QueueDeviceLow/Hi  0x0fc ConfigGeneration (0)
 *   0x010 DeviceFeatures(Sel)   0x050 QueueNotify       0x060 InterruptStatus    0x100 device configuration
 *   0x020 DriverFeatures(Sel)   0x064 InterruptACK
 * </pre>
 *
 * <p>Registers take 32-bit aligned accesses (others read 0 and are ignored, as in QEMU); the configuration space
 * takes 1, 2, 4 and 8 bytes anywhere, and reads past its end give all ones (QEMU's answer). Write-only registers
 * read 0. The legacy registers (GuestPageSize, QueueAlign, QueuePFN) are ignored: this transport is virtio 1.x
 * only.
 *
 * <p>Negotiation follows 3.1.1: the device offers its features plus VERSION_1, INDIRECT_DESC and EVENT_IDX; when
 * the driver sets FEATURES_OK, its features must be a subset of those and include VERSION_1, or FEATURES_OK does
 * not stick (the driver reads it back and gives up), which is how a legacy-only driver is refused. DRIVER_OK
 * without FEATURES_OK (a legacy driver's sequence) marks the device as needing reset. Status bits are only ever
 * added; writing 0 resets the device.
 *
 * <p>A driver mistake, here or in the queues (see {@link Virtqueue}, {@link DescriptorChain}), never escapes as an
 * exception: the device is marked broken, DEVICE_NEEDS_RESET is set, a configuration change interrupt is sent if
 * DRIVER_OK was set (2.1.2), the reason goes to the error sink, and nothing is processed until a reset. A
 * notification before DRIVER_OK counts as such a mistake (the device must not touch queues before it, 3.1.1);
 * notifications of queues that do not exist or are not ready are ignored, as QEMU ignores them.
 *
 * <p>Interrupts are level-triggered: the line is asserted exactly while InterruptStatus is non-zero (bit 0, used
 * buffer; bit 1, configuration change) and drops when the driver acknowledges the last bit. Like QEMU, the
 * transport sets the line's level after every change of InterruptStatus, so on an edge-triggered pin each new
 * interrupt is a new edge.
 *
 * <p>Threading and locks. Several vCPUs may access the transport at once. Register writes (other than
 * QueueNotify and InterruptACK) run under the transport's monitor. Each queue has a lock held while it is
 * processed, reconfigured or reset. InterruptStatus and the line level are guarded by a leaf lock. The order is
 * monitor, then queue locks by ascending index, then the interrupt lock. Processing ({@link #processQueue}, which a
 * QueueNotify write calls on the writing vCPU's thread) takes only its queue's lock, never the monitor, so a vCPU
 * reading a register or writing another queue's notify never waits for a disk request; status is an atomic so
 * processing can mark the device broken without the monitor. Reset and close take every queue lock, so they wait
 * for requests in flight and never run concurrently with the device.
 *
 * <p>To move notifications to an ioeventfd thread later, that thread calls {@link #processQueue(int)}; to deliver
 * interrupts through an irqfd, the machine passes an {@link IrqLine} that signals one. Devices do not change.
 *
 * <p>Lifetime: from construction to {@link #close()}, which closes the device once (the machine closes the
 * transports after its vCPUs stop and before the guest memory). Register accesses after close still answer;
 * notifications do nothing. The per-notification path allocates nothing.
 */
public final class VirtioMmioTransport implements BusDevice, AutoCloseable {
    /** The size of the register block: what to insert on the MMIO bus (QEMU's transports are this far apart). */
    public static final long SIZE = 0x200;
    /** "virt", little-endian. */
    public static final int MAGIC = 0x74726976;
    /** The transport version: 2, virtio 1.x (1 would be the legacy layout). */
    public static final int VERSION = 2;
    /** "QEMU", little-endian: the vendor ID QEMU's transports report. */
    public static final int VENDOR_ID = 0x554D4551;
    /** InterruptStatus bits. */
    public static final int INT_USED_BUFFER = 1, INT_CONFIG = 2;

    static final int MAGIC_VALUE = 0x000, VERSION_REG = 0x004, DEVICE_ID = 0x008, VENDOR = 0x00c;
    static final int DEVICE_FEATURES = 0x010, DEVICE_FEATURES_SEL = 0x014;
    static final int DRIVER_FEATURES = 0x020, DRIVER_FEATURES_SEL = 0x024;
    static final int QUEUE_SEL = 0x030, QUEUE_NUM_MAX = 0x034, QUEUE_NUM = 0x038, QUEUE_READY = 0x044;
    static final int QUEUE_NOTIFY = 0x050, INTERRUPT_STATUS = 0x060, INTERRUPT_ACK = 0x064, STATUS = 0x070;
    static final int QUEUE_DESC_LOW = 0x080, QUEUE_DESC_HIGH = 0x084;
    static final int QUEUE_DRIVER_LOW = 0x090, QUEUE_DRIVER_HIGH = 0x094;
    static final int QUEUE_DEVICE_LOW = 0x0a0, QUEUE_DEVICE_HIGH = 0x0a4;
    static final int SHM_LEN_LOW = 0x0b0, SHM_LEN_HIGH = 0x0b4, SHM_BASE_LOW = 0x0b8, SHM_BASE_HIGH = 0x0bc;
    static final int CONFIG_GENERATION = 0x0fc, CONFIG = 0x100;

    /** The transport's own features: what {@link Virtqueue} implements. */
    static final long TRANSPORT_FEATURES = Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(Virtio.F_INDIRECT_DESC)
            | Virtio.bit(Virtio.F_EVENT_IDX);

    private final VirtioDevice device;
    private final GuestMemory memory;
    private final IrqLine irq;
    private final Consumer<String> errors;
    private final String name;
    private final long offered;
    private final Virtqueue[] queues;
    private final AtomicInteger status = new AtomicInteger();
    private final Object irqLock = new Object();
    private final VirtioInterrupt interrupt = new VirtioInterrupt() {
        @Override
        public void usedBuffer(int queueIndex) {
            raise(INT_USED_BUFFER);
        }

        @Override
        public void configChanged() {
            raise(INT_CONFIG);
        }
    };

    // Under the monitor.
    private int deviceFeaturesSel, driverFeaturesSel, queueSel;
    private long driverFeatures;
    private volatile boolean closed;

    // Under irqLock.
    private int interruptStatus;

    /**
     * A transport for {@code device} over {@code memory}, driving {@code irq}; the reasons a device is marked broken
     * go to stderr as {@code isthmus-vmm: ...}, as QEMU reports {@code virtio_error}.
     */
    public VirtioMmioTransport(VirtioDevice device, GuestMemory memory, IrqLine irq) {
        this(device, memory, irq, line -> System.err.println("isthmus-vmm: " + line));
    }

    /**
     * A transport for {@code device} over {@code memory}, driving {@code irq}, reporting why the device was marked
     * broken to {@code errors} (one line each, naming the device: "virtio-blk: queue 0: ...").
     */
    public VirtioMmioTransport(VirtioDevice device, GuestMemory memory, IrqLine irq, Consumer<String> errors) {
        this.device = Objects.requireNonNull(device, "device");
        this.memory = Objects.requireNonNull(memory, "memory");
        this.irq = Objects.requireNonNull(irq, "irq");
        this.errors = Objects.requireNonNull(errors, "errors");
        this.name = switch (device.deviceId()) {
            case Virtio.ID_BLOCK -> "virtio-blk";
            case Virtio.ID_ENTROPY -> "virtio-rng";
            default -> "virtio device " + device.deviceId();
        };
        this.offered = device.features() | TRANSPORT_FEATURES;
        this.queues = new Virtqueue[device.queueCount()];
        for (int i = 0; i < queues.length; i++) {
            queues[i] = new Virtqueue(i, device.queueMaxSize(i), memory, interrupt);
        }
    }

    /** The device behind this transport. */
    public VirtioDevice device() {
        return device;
    }

    /** The device status register (DEVICE_NEEDS_RESET included). */
    public int status() {
        return status.get();
    }

    /** Whether the device is marked broken (DEVICE_NEEDS_RESET) until the next reset. */
    public boolean needsReset() {
        return (status.get() & Virtio.STATUS_DEVICE_NEEDS_RESET) != 0;
    }

    /** InterruptStatus; the line is asserted exactly while it is non-zero. */
    public int interruptStatus() {
        synchronized (irqLock) {
            return interruptStatus;
        }
    }

    // ---- BusDevice ----

    @Override
    public long read(long offset, int size) {
        if (offset >= CONFIG) {
            return readConfig((int) (offset - CONFIG), size);
        }
        if (size != 4 || (offset & 3) != 0) {
            return 0;
        }
        return switch ((int) offset) {
            case MAGIC_VALUE -> MAGIC;
            case VERSION_REG -> VERSION;
            case DEVICE_ID -> device.deviceId();
            case VENDOR -> VENDOR_ID;
            case DEVICE_FEATURES -> deviceFeatures();
            case QUEUE_NUM_MAX -> queueNumMax();
            case QUEUE_READY -> queueReady();
            case INTERRUPT_STATUS -> interruptStatus();
            case STATUS -> status.get();
            // No shared memory regions: a non-existent one reads as length and base all ones (4.2.2.1).
            case SHM_LEN_LOW, SHM_LEN_HIGH, SHM_BASE_LOW, SHM_BASE_HIGH -> 0xFFFF_FFFFL;
            case CONFIG_GENERATION -> 0; // the configuration space never changes under the driver
            default -> 0;
        } & 0xFFFF_FFFFL;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset >= CONFIG) {
            writeConfig((int) (offset - CONFIG), size, value);
            return;
        }
        if (size != 4 || (offset & 3) != 0) {
            return;
        }
        int v = (int) value;
        switch ((int) offset) {
            case QUEUE_NOTIFY -> processQueue(v);
            case INTERRUPT_ACK -> acknowledge(v);
            default -> {
                synchronized (this) {
                    writeRegister((int) offset, v);
                }
            }
        }
    }

    private synchronized long deviceFeatures() {
        return switch (deviceFeaturesSel) {
            case 0 -> offered & 0xFFFF_FFFFL;
            case 1 -> offered >>> 32;
            default -> 0;
        };
    }

    private synchronized int queueNumMax() {
        Virtqueue q = selected();
        return q == null ? 0 : q.maxSize();
    }

    private synchronized int queueReady() {
        Virtqueue q = selected();
        return q != null && q.isReady() ? 1 : 0;
    }

    private Virtqueue selected() {
        return queueSel >= 0 && queueSel < queues.length ? queues[queueSel] : null;
    }

    private long readConfig(int offset, int size) {
        if ((size != 1 && size != 2 && size != 4 && size != 8) || offset + size > device.configSize()) {
            return -1L;
        }
        return device.readConfig(offset, size);
    }

    private void writeConfig(int offset, int size, long value) {
        if ((size == 1 || size == 2 || size == 4 || size == 8) && offset + size <= device.configSize()) {
            device.writeConfig(offset, size, value);
        }
    }

    private void writeRegister(int offset, int v) {
        switch (offset) {
            case DEVICE_FEATURES_SEL -> deviceFeaturesSel = v;
            case DRIVER_FEATURES -> {
                // Features are fixed once FEATURES_OK is set (3.1.1).
                if ((status.get() & Virtio.STATUS_FEATURES_OK) == 0) {
                    if (driverFeaturesSel == 0) {
                        driverFeatures = (driverFeatures & ~0xFFFF_FFFFL) | (v & 0xFFFF_FFFFL);
                    } else if (driverFeaturesSel == 1) {
                        driverFeatures = (driverFeatures & 0xFFFF_FFFFL) | ((long) v << 32);
                    }
                }
            }
            case DRIVER_FEATURES_SEL -> driverFeaturesSel = v;
            case QUEUE_SEL -> queueSel = v;
            case QUEUE_READY -> writeQueueReady(v);
            case STATUS -> writeStatus(v & 0xFF);
            case QUEUE_NUM, QUEUE_DESC_LOW, QUEUE_DESC_HIGH, QUEUE_DRIVER_LOW, QUEUE_DRIVER_HIGH, QUEUE_DEVICE_LOW,
                 QUEUE_DEVICE_HIGH -> writeQueueConfig(offset, v);
            default -> {
                // Read-only registers, and the legacy ones (GuestPageSize, QueueAlign, QueuePFN): ignored.
            }
        }
    }

    /**
     * A ready queue's configuration is fixed: the device may be reading its rings. A not-ready queue is never
     * processed and only changes under the monitor, which is held here, so no queue lock is needed.
     */
    private void writeQueueConfig(int offset, int v) {
        Virtqueue q = selected();
        if (q == null || q.isReady()) {
            return;
        }
        long low = v & 0xFFFF_FFFFL, high = (long) v << 32;
        switch (offset) {
            case QUEUE_NUM -> q.setSize(v);
            case QUEUE_DESC_LOW -> q.setDescAddress((q.descAddress() & ~0xFFFF_FFFFL) | low);
            case QUEUE_DESC_HIGH -> q.setDescAddress((q.descAddress() & 0xFFFF_FFFFL) | high);
            case QUEUE_DRIVER_LOW -> q.setAvailAddress((q.availAddress() & ~0xFFFF_FFFFL) | low);
            case QUEUE_DRIVER_HIGH -> q.setAvailAddress((q.availAddress() & 0xFFFF_FFFFL) | high);
            case QUEUE_DEVICE_LOW -> q.setUsedAddress((q.usedAddress() & ~0xFFFF_FFFFL) | low);
            case QUEUE_DEVICE_HIGH -> q.setUsedAddress((q.usedAddress() & 0xFFFF_FFFFL) | high);
            default -> throw new AssertionError(offset);
        }
    }

    private void writeQueueReady(int v) {
        Virtqueue q = selected();
        if (q == null) {
            return;
        }
        q.lock();
        try {
            if (v == 1 && !q.isReady()) {
                q.enable();
                q.applyFeatures(driverFeatures);
            } else if (v == 0 && q.isReady()) {
                q.disable();
            }
        } catch (VirtioProtocolException e) {
            markBroken(e.getMessage());
        } finally {
            q.unlock();
        }
    }

    private void writeStatus(int value) {
        if (value == 0) {
            resetLocked();
            return;
        }
        int old = status.get();
        // DEVICE_NEEDS_RESET is the device's to set; a driver writing it is ignored.
        int next = old | (value & ~Virtio.STATUS_DEVICE_NEEDS_RESET);
        int added = next & ~old;
        if ((added & Virtio.STATUS_FEATURES_OK) != 0) {
            String problem = featureProblem();
            if (problem != null) {
                next &= ~Virtio.STATUS_FEATURES_OK;
                errors.accept(name + ": features refused: " + problem);
            }
        }
        if ((added & Virtio.STATUS_DRIVER_OK) != 0) {
            if ((next & Virtio.STATUS_FEATURES_OK) == 0) {
                setStatus(next);
                markBroken("DRIVER_OK without FEATURES_OK (a legacy driver? this transport is virtio 1.x only)");
                return;
            }
            try {
                activate();
            } catch (VirtioProtocolException e) {
                setStatus(next);
                markBroken(e.getMessage());
                return;
            }
        }
        setStatus(next);
    }

    private String featureProblem() {
        long unknown = driverFeatures & ~offered;
        if (unknown != 0) {
            return String.format("the driver accepted 0x%x, which the device did not offer (0x%x)", unknown, offered);
        }
        if ((driverFeatures & Virtio.bit(Virtio.F_VERSION_1)) == 0) {
            return "the driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not supported)";
        }
        return null;
    }

    private void activate() {
        lockQueues();
        try {
            for (Virtqueue q : queues) {
                q.applyFeatures(driverFeatures);
            }
            device.activate(memory, driverFeatures, queues);
        } finally {
            unlockQueues();
        }
    }

    /** Sets the status to {@code value}, keeping DEVICE_NEEDS_RESET if processing set it meanwhile. */
    private void setStatus(int value) {
        int s;
        do {
            s = status.get();
        } while (!status.compareAndSet(s, value | (s & Virtio.STATUS_DEVICE_NEEDS_RESET)));
    }

    // ---- processing ----

    /**
     * Processes queue {@code index} now, on the calling thread: what a QueueNotify write does, and what an
     * ioeventfd thread would call. Never throws for anything the guest did.
     */
    public void processQueue(int index) {
        if (index < 0 || index >= queues.length) {
            return;
        }
        Virtqueue q = queues[index];
        q.lock();
        try {
            int s = status.get();
            if (closed || (s & (Virtio.STATUS_DEVICE_NEEDS_RESET | Virtio.STATUS_FAILED)) != 0) {
                return;
            }
            if ((s & Virtio.STATUS_DRIVER_OK) == 0) {
                if (s != 0) {
                    markBroken("queue " + index + " notified before DRIVER_OK");
                }
                return;
            }
            if (q.isReady()) {
                device.queueNotify(index);
            }
        } catch (VirtioProtocolException e) {
            markBroken(e.getMessage());
        } catch (RuntimeException e) {
            // A host-side failure (guest memory closed under a running vCPU, a device bug): the device stops
            // rather than the vCPU thread dying with it.
            markBroken("internal error: " + e);
        } finally {
            q.unlock();
        }
    }

    /** Sets DEVICE_NEEDS_RESET (once until reset), reports why, and interrupts if the driver is running. */
    private void markBroken(String why) {
        int s;
        do {
            s = status.get();
            if ((s & Virtio.STATUS_DEVICE_NEEDS_RESET) != 0) {
                return;
            }
        } while (!status.compareAndSet(s, s | Virtio.STATUS_DEVICE_NEEDS_RESET));
        errors.accept(name + ": " + why);
        if ((s & Virtio.STATUS_DRIVER_OK) != 0) {
            raise(INT_CONFIG);
        }
    }

    // ---- interrupts ----

    /*
     * The line is set after every change, not only when it flips, as QEMU's virtio_mmio_update_irq does: on a
     * level-triggered IOAPIC pin a repeated high is nothing, and on an edge-triggered one (how Linux may program a
     * legacy IRQ) it is a new interrupt, without which a buffer used while an earlier interrupt is still being
     * handled would wait for the next one.
     */
    private void raise(int bits) {
        synchronized (irqLock) {
            interruptStatus |= bits;
            irq.set(true);
        }
    }

    private void acknowledge(int bits) {
        synchronized (irqLock) {
            interruptStatus &= ~bits;
            irq.set(interruptStatus != 0);
        }
    }

    // ---- reset and close ----

    /** A system reset: the device and its queues go back to their state at power-on, the line is lowered. */
    public synchronized void reset() {
        resetLocked();
    }

    private void resetLocked() {
        lockQueues();
        try {
            for (Virtqueue q : queues) {
                q.reset();
            }
            if (!closed) {
                device.reset();
            }
            status.set(0);
        } finally {
            unlockQueues();
        }
        deviceFeaturesSel = driverFeaturesSel = queueSel = 0;
        driverFeatures = 0;
        acknowledge(~0);
    }

    private void lockQueues() {
        for (Virtqueue q : queues) {
            q.lock();
        }
    }

    private void unlockQueues() {
        for (int i = queues.length - 1; i >= 0; i--) {
            queues[i].unlock();
        }
    }

    /** Closes the device (its backend) once, after any request in flight; the transport processes nothing more. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        lockQueues();
        try {
            closed = true;
            device.close();
        } finally {
            unlockQueues();
        }
    }

    @Override
    public String toString() {
        return "VirtioMmioTransport[" + name + "]";
    }
}
