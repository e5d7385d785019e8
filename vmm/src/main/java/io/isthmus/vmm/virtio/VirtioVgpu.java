package io.isthmus.vmm.virtio;

import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

import org.jctools.queues.atomic.SpscAtomicArrayQueue;

import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.kvm.memory.GuestRegion;
import io.isthmus.sched.ConfigurationException;
import io.isthmus.sched.VGpuConfig;
import io.isthmus.sched.engine.GuestRam;
import io.isthmus.sched.vgpu.VgpuCompletion;
import io.isthmus.sched.vgpu.VgpuContext;
import io.isthmus.sched.vgpu.VgpuRequest;
import io.isthmus.sched.vgpu.VgpuStatus;
import io.isthmus.sched.vgpu.VgpuWire;
import io.isthmus.vmm.vgpu.VgpuHosts;
import io.isthmus.vmm.vgpu.VgpuStats;

/**
 * The isthmus paravirtual vGPU ({@code -device isthmus-vgpu}), specified in {@code docs/vgpu-device.md}: one request
 * queue whose chains carry a 64-byte request ({@link VgpuWire}) and a 32-byte completion; each request goes to this
 * vGPU's {@link VgpuContext} on the process's shared {@link io.isthmus.sched.vgpu.VgpuHost}, whose scheduler runs it
 * on the engine in its turn, and its completion comes back on the used ring with an interrupt. Guest RAM is handed
 * to the engine as it is ({@link GuestRam} over the machine's own segments): copies go straight between guest RAM and
 * device memory, with no bounce through the VMM.
 *
 * <p>The guest is hostile. The chain's shape is checked when it is taken: a chain without a device-writable buffer of
 * at least {@value VgpuWire#COMPLETION_BYTES} bytes in one RAM region cannot be answered, so it marks the device
 * broken (DEVICE_NEEDS_RESET), as does a driver that keeps more chains in flight than the queue holds. Everything in
 * a request (op, kernel, handles, guest addresses and lengths, quota) is checked by the vGPU layer when it runs, and a
 * bad one gets an error completion; a request shorter than {@value VgpuWire#REQUEST_BYTES} bytes gets
 * {@link VgpuStatus#BAD_ARGUMENT}. A chain taken before the driver turned its queue off (QueueReady 0) still runs,
 * but is never answered on the ring it sets up next ({@link Virtqueue#generation()}). Every request costs this vGPU
 * engine time, errors included (the scheduler charges a request's execution, validation included), so a flood of bad
 * requests spends the flooder's share, never another's; its completions are answered on this device's own thread.
 *
 * <p>Threads and locks. Requests are taken on the notifying thread (the vCPU that wrote QueueNotify) under the
 * queue's lock and submitted lock-free; completions arrive on the scheduler's thread, which only hands them to this
 * activation's completion thread through a single-producer queue (JCTools) and goes back to the engine: writing the
 * used ring needs the queue's lock, which a guest's notification holds, and raising the interrupt is a system call, so
 * doing either on the scheduler's thread would leave the GPU idle meanwhile (1-2 ms a request in the lab, a fifth of
 * a 10 ms kernel). The completion thread takes the lock, writes the completion, pushes it on the used ring and
 * interrupts, in submission order. Nothing holding a queue lock ever waits for another thread except {@link #reset}
 * and {@link #close}, and those first mark the session dead, which a completion waiting for the lock sees and gives
 * up: so no two threads can deadlock. Per request nothing is allocated: the requests are a pool as large as the
 * queue, completed in submission order (the scheduler's promise), so a ring of slots pairs each completion with its
 * chain.
 *
 * <p>Lifetime: {@link VirtioDevices#open} takes a lease on the shared host; each activation opens a vGPU context (its
 * device memory empty) and each reset closes it, freeing its memory; the next activation's context replaces it
 * ({@link io.isthmus.sched.vgpu.VgpuHost#open(VGpuConfig, long, io.isthmus.sched.engine.GuestRam, VgpuCompletion,
 * VgpuContext)}): it inherits what the old vGPU owed the others and is charged the reset's engine time.
 * {@link #close} gives the lease back.
 */
public final class VirtioVgpu implements VirtioDevice {
    /**
     * The device ID: 63. The virtio specification (1.3 and its drafts) has allocated IDs up to the forties; 63 is the
     * last one that virtio-pci can still express in its modern device-ID range (0x1040 + ID, up to 0x107f), so the
     * same device could later sit on PCI unchanged, and it is as far from the allocation frontier as that allows.
     */
    public static final int DEVICE_ID = 63;
    /** The queue's maximum size: the vGPU's own submission queue holds 256 requests. */
    public static final int QUEUE_SIZE = 256;
    /** The configuration space's size: see {@code docs/vgpu-device.md}. */
    public static final int CONFIG_SIZE = 24;
    /** Configuration fields. */
    static final int CFG_MEMORY = 0, CFG_WEIGHT = 8, CFG_CAP = 12, CFG_KERNELS = 16, CFG_REQUEST = 20,
            CFG_COMPLETION = 22;
    /** The kernels every engine runs, as a bit mask of their ids (SPIN 1, SAXPY 2, COPY 3, MATMUL 4). */
    static final int KERNELS = 0b11110;

    private final VgpuHosts.Lease lease;
    private final VGpuConfig config;
    private final long memoryBytes;
    private final byte[] configSpace = new byte[CONFIG_SIZE];
    private final AtomicBoolean closed = new AtomicBoolean();
    private final VgpuStats stats = new VgpuStats();
    private final String label;
    private GuestMemory ramOf;
    private GuestRam ram;
    private volatile Session session;
    // The vGPU the last reset closed (activate and reset run under the transport's lock): the next one replaces it,
    // so a guest cannot shed what its vGPU owes, or reset at the engine's expense, by resetting its device.
    private VgpuContext replaced;

    /**
     * A vGPU with {@code weight} and {@code capPercent} on the host {@code lease} holds, and {@code memoryBytes} of
     * device memory; it owns the lease from now on. {@code label} names it in {@link VgpuHosts#usage} (its
     * {@code id=}), or null for {@code vgpuN}.
     */
    public VirtioVgpu(VgpuHosts.Lease lease, int weight, int capPercent, long memoryBytes, String label) {
        this.lease = lease;
        this.label = label;
        this.config = VGpuConfig.weighted(weight).withCap(capPercent / 100.0);
        this.memoryBytes = memoryBytes;
        put(CFG_MEMORY, 8, memoryBytes);
        put(CFG_WEIGHT, 4, weight);
        put(CFG_CAP, 4, capPercent);
        put(CFG_KERNELS, 4, KERNELS);
        put(CFG_REQUEST, 2, VgpuWire.REQUEST_BYTES);
        put(CFG_COMPLETION, 2, VgpuWire.COMPLETION_BYTES);
    }

    private void put(int offset, int size, long value) {
        for (int i = 0; i < size; i++) {
            configSpace[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    @Override
    public int deviceId() {
        return DEVICE_ID;
    }

    @Override
    public long features() {
        return 0;
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public int queueMaxSize(int index) {
        return QUEUE_SIZE;
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    @Override
    public long readConfig(int offset, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            v |= (configSpace[offset + i] & 0xFFL) << (8 * i);
        }
        return v;
    }

    @Override
    public void writeConfig(int offset, int size, long value) {
        // Read-only configuration: the driver's writes are ignored, as the spec lets a device do for read-only fields.
    }

    @Override
    public void activate(GuestMemory memory, long features, Virtqueue[] queues) {
        Virtqueue q = queues[0];
        if (!q.isReady()) {
            throw new VirtioProtocolException("isthmus-vgpu: the driver set DRIVER_OK without making queue 0 ready");
        }
        if (ramOf != memory) {
            GuestRam.Builder b = GuestRam.builder();
            for (GuestRegion r : memory.regions()) {
                b.region(r.start(), r.host());
            }
            ram = b.build();
            ramOf = memory;
        }
        Session s = new Session(q, memory, stats, label == null ? "isthmus-vgpu" : label);
        try {
            s.context = lease.host().open(config, memoryBytes, ram, s, replaced);
        } catch (ConfigurationException e) {
            throw new VirtioProtocolException("isthmus-vgpu: the engine cannot take this vGPU: " + e.getMessage());
        }
        replaced = null;
        s.start();
        lease.register(s.context.id(), label == null ? "vgpu" + s.context.id() : label, stats);
        session = s;
    }

    @Override
    public void queueNotify(int index) {
        Session s = session;
        if (s != null) {
            s.take();
        }
    }

    @Override
    public void reset() {
        Session s = session;
        session = null;
        if (s != null) {
            lease.unregister(s.context.id());
            s.end();
            replaced = s.context; // the next session's vGPU inherits its debt and pays for the reset
        }
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            reset();
            lease.close();
        }
    }

    /** @return its completion statistics, kept across resets */
    public VgpuStats stats() {
        return stats;
    }

    /** @return the open vGPU context while the driver is active, else null (tests, statistics) */
    public VgpuContext context() {
        Session s = session;
        return s == null ? null : s.context;
    }

    @Override
    public String toString() {
        return "isthmus-vgpu";
    }

    /**
     * One activation: the queue, its vGPU context, and the requests in flight. Fields marked "under the lock" are
     * guarded by the queue's lock.
     */
    private static final class Session implements VgpuCompletion {
        private final Virtqueue q;
        private final GuestMemory memory;
        private final int mask;
        private final VgpuRequest[] pool;
        private final int[] heads;
        private final long[] completionAt;
        private final VgpuStats stats; // written under the lock, so by one thread at a time
        private final int[] generationAt; // the queue's generation when each slot's chain was taken
        private int submitted, completed; // under the lock; their difference is what is in flight
        private volatile boolean dead;
        private final SpscAtomicArrayQueue<VgpuRequest> finished; // the scheduler's thread to the completion thread
        private final Thread completer;
        private volatile boolean parked; // the completion thread is (about to be) parked for want of completions
        VgpuContext context;

        Session(Virtqueue q, GuestMemory memory, VgpuStats stats, String label) {
            this.q = q;
            this.memory = memory;
            this.stats = stats;
            // As large as the pool: never more requests in flight, so an offer never fails.
            this.finished = new SpscAtomicArrayQueue<>(Math.max(2, q.size()));
            this.completer = Thread.ofPlatform().daemon(true).name(label + "-completions").unstarted(this::complete);
            int n = q.size();
            this.mask = n - 1;
            this.pool = new VgpuRequest[n];
            for (int i = 0; i < n; i++) {
                pool[i] = new VgpuRequest();
            }
            this.heads = new int[n];
            this.completionAt = new long[n];
            this.generationAt = new int[n];
        }

        // The notifying thread, under the queue's lock (the transport holds it).
        void take() {
            DescriptorChain c;
            while ((c = q.pop()) != null) {
                int w = c.firstWritable();
                long at = w < c.count() ? c.address(w) : -1;
                GuestRegion region = at < 0 ? null : memory.regionOf(at);
                if (at < 0 || c.length(w) < VgpuWire.COMPLETION_BYTES || region == null
                        || region.end() - at < VgpuWire.COMPLETION_BYTES) {
                    throw new VirtioProtocolException("isthmus-vgpu: request chain " + c.head() + " has no"
                            + " device-writable buffer of " + VgpuWire.COMPLETION_BYTES + " bytes for its completion");
                }
                if (submitted - completed == pool.length) {
                    throw new VirtioProtocolException("isthmus-vgpu: the driver made a chain available while all "
                            + pool.length + " of the queue's entries were in flight");
                }
                if (c.readableBytes() < VgpuWire.REQUEST_BYTES) {
                    writeCompletion(at, 0, VgpuStatus.BAD_ARGUMENT, 0, 0);
                    q.push(c.head(), VgpuWire.COMPLETION_BYTES);
                    refused();
                    continue;
                }
                int slot = submitted & mask;
                VgpuRequest r = pool[slot];
                r.set((int) c.readReadable(VgpuWire.OP, 4), (int) c.readReadable(VgpuWire.KERNEL, 4),
                        c.readReadable(VgpuWire.TAG, 8), c.readReadable(VgpuWire.WORDS, 8),
                        c.readReadable(VgpuWire.WORDS + 8, 8), c.readReadable(VgpuWire.WORDS + 16, 8),
                        c.readReadable(VgpuWire.WORDS + 24, 8), c.readReadable(VgpuWire.WORDS + 32, 8),
                        c.readReadable(VgpuWire.WORDS + 40, 8));
                heads[slot] = c.head();
                completionAt[slot] = at;
                generationAt[slot] = q.generation();
                int status = context.submit(r);
                if (status == VgpuStatus.OK) {
                    submitted++;
                } else { // BUSY or CLOSED: refused now, answered now
                    writeCompletion(at, r.tag(), status, 0, 0);
                    q.push(c.head(), VgpuWire.COMPLETION_BYTES);
                    refused();
                }
            }
            q.notifyDriver();
        }

        void start() {
            completer.start();
        }

        // The scheduler's thread (the only producer: once the session is dead, close()'s hand-backs are dropped
        // here): one request finished, in submission order.
        @Override
        public void completed(VgpuRequest r) {
            if (dead) {
                return;
            }
            finished.offer(r);
            // Dekker with complete(): publish the request, then read parked; it publishes parked, then rereads the
            // queue. The fence keeps the offer's store from passing the read, so one of the two sees the other.
            VarHandle.fullFence();
            if (parked) {
                LockSupport.unpark(completer);
            }
        }

        // The completion thread: answers finished requests until the session ends.
        private void complete() {
            while (!dead) {
                VgpuRequest r = finished.poll();
                if (r != null) {
                    deliver(r);
                    continue;
                }
                parked = true;
                if (finished.isEmpty() && !dead) {
                    LockSupport.park(this);
                }
                parked = false;
            }
        }

        private void deliver(VgpuRequest r) {
            while (!q.tryLock()) {
                if (dead) {
                    return; // a reset or close holds the lock and waits for this thread: the guest forgot it
                }
                Thread.yield();
            }
            try {
                if (dead) {
                    return;
                }
                int slot = completed & mask;
                if (pool[slot] != r) {
                    throw new IllegalStateException("isthmus-vgpu: completion out of submission order");
                }
                completed++; // whether or not it can be answered: the slot is free again
                if (!q.isReady() || q.generation() != generationAt[slot]) {
                    return; // the driver turned the queue off after this chain was taken: nowhere to answer it
                }
                writeCompletion(completionAt[slot], r.tag(), r.status(), r.result(), r.gpuNanos());
                q.push(heads[slot], VgpuWire.COMPLETION_BYTES);
                q.notifyDriver();
                stats.completed(r.status() == VgpuStatus.OK, r.gpuNanos(), r.submittedNanos(), r.startedNanos(),
                        r.completedNanos(), System.nanoTime());
            } finally {
                q.unlock();
            }
        }

        private void refused() {
            long now = System.nanoTime();
            stats.completed(false, 0, now, now, now, now);
        }

        private void writeCompletion(long at, long tag, int status, long result, long gpuNanos) {
            memory.writeLong(at + VgpuWire.C_TAG, tag);
            memory.writeInt(at + VgpuWire.C_STATUS, status);
            memory.writeInt(at + VgpuWire.C_STATUS + 4, 0);
            memory.writeLong(at + VgpuWire.C_RESULT, result);
            memory.writeLong(at + VgpuWire.C_GPU_NANOS, gpuNanos);
        }

        // Under the queue's lock (reset or close): stop answering, then free the vGPU (its queued requests are
        // handed back to completed(), which drops them).
        void end() {
            dead = true;
            LockSupport.unpark(completer);
            if (context != null) {
                context.close();
            }
        }
    }
}
