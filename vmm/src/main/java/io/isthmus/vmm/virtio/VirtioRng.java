package io.isthmus.vmm.virtio;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicBoolean;

import io.isthmus.kvm.memory.GuestMemory;

/**
 * A virtio entropy device (5.4): QEMU's {@code -device virtio-rng-device}. Each chain's device-writable buffers
 * are filled from the host's {@code /dev/urandom} (the kernel's CSPRNG, as QEMU's default rng-builtin backend uses
 * through getrandom), read straight into guest RAM; at most {@link #MAX_PER_REQUEST} bytes a request, so a guest
 * asking for gigabytes cannot hold a vCPU for long (the used length tells the driver how much it got).
 *
 * <p>One queue of {@link #QUEUE_SIZE} entries (QEMU's), no features, no configuration space. Lifetime: the
 * constructor opens the source, {@link #close} closes it once. Thread-safety: per the {@link VirtioDevice}
 * contract.
 */
public final class VirtioRng implements VirtioDevice {
    /** Entries in the request queue: QEMU's. */
    public static final int QUEUE_SIZE = 8;
    /** The most bytes one request is given. */
    public static final int MAX_PER_REQUEST = 64 * 1024;

    private final ReadableByteChannel source;
    private final AtomicBoolean closed = new AtomicBoolean();
    private Virtqueue queue;
    private GuestByteBuffers buffers;
    private GuestMemory buffersMemory;

    /** An entropy device reading {@code /dev/urandom}. */
    public VirtioRng() {
        this(openUrandom());
    }

    /** An entropy device reading {@code source} (a test's deterministic bytes); it closes the source. */
    public VirtioRng(ReadableByteChannel source) {
        this.source = source;
    }

    private static ReadableByteChannel openUrandom() {
        try {
            return FileChannel.open(Path.of("/dev/urandom"), StandardOpenOption.READ);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open /dev/urandom for virtio-rng", e);
        }
    }

    @Override
    public int deviceId() {
        return Virtio.ID_ENTROPY;
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
        return 0;
    }

    @Override
    public long readConfig(int offset, int size) {
        return -1L;
    }

    @Override
    public void writeConfig(int offset, int size, long value) {
        // No configuration space.
    }

    @Override
    public void activate(GuestMemory memory, long features, Virtqueue[] queues) {
        queue = queues[0];
        if (buffersMemory != memory) {
            buffers = new GuestByteBuffers(memory);
            buffersMemory = memory;
        }
    }

    @Override
    public void reset() {
        queue = null;
    }

    @Override
    public void queueNotify(int index) {
        Virtqueue q = queue;
        DescriptorChain c;
        while ((c = q.pop()) != null) {
            q.push(c, fill(c));
        }
        q.notifyDriver();
    }

    /** Fills the chain's writable buffers, up to the cap; returns the bytes written (0 if the source failed). */
    private long fill(DescriptorChain c) {
        long done = 0;
        try {
            for (int i = c.firstWritable(); i < c.count() && done < MAX_PER_REQUEST; i++) {
                long address = c.address(i), todo = Math.min(c.length(i), MAX_PER_REQUEST - done);
                while (todo > 0) {
                    ByteBuffer b = buffers.view(address, todo);
                    int n = b.remaining();
                    while (b.hasRemaining()) {
                        if (source.read(b) <= 0) { // end of the source (or a non-blocking one with nothing now)
                            return done + (n - b.remaining());
                        }
                    }
                    address += n;
                    todo -= n;
                    done += n;
                }
            }
        } catch (IOException e) {
            // The guest gets what was read so far; a used length of 0 is a valid (empty) answer.
        }
        return done;
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                source.close();
            } catch (IOException e) {
                // Closing a read-only source loses nothing.
            }
        }
    }

    @Override
    public String toString() {
        return "virtio-rng";
    }
}
