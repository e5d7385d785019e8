package io.isthmus.vmm.virtio;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;

import io.isthmus.kvm.memory.GuestMemory;

/**
 * A virtio block device (5.2) on a raw image file: QEMU's {@code -device virtio-blk-device,drive=ID} with
 * {@code -drive file=PATH,format=raw,if=none,id=ID[,readonly=on]}.
 *
 * <p>Requests: IN (read), OUT (write), FLUSH ({@link FileChannel#force} without metadata: fdatasync) and GET_ID
 * (the {@code serial} property, NUL-terminated when shorter than 20 bytes, as QEMU answers); anything else gets
 * UNSUPP. Data moves between the file and guest RAM with positional {@code FileChannel} reads and writes on
 * {@link ByteBuffer} views of the guest's buffers: no copy and no allocation per request. Writes go to the host's
 * page cache, so what a completed write acknowledged survives the VMM being killed, and what a completed FLUSH
 * acknowledged also survives the host losing power. A request whose data length is not a multiple of 512 or that
 * reaches past the capacity gets IOERR, as does a write to a read-only disk (QEMU's answers) or a failed host I/O;
 * a request without a 16-byte header or a status byte breaks the protocol (the device is then marked as needing
 * reset). Reads of the last sector of a file whose size is not a multiple of 512 return zeros past its end, as QEMU
 * rounds the capacity up.
 *
 * <p>Offers SEG_MAX (queue size - 2, as QEMU), BLK_SIZE (512), FLUSH (the driver then treats the disk as a
 * write-back cache and flushes it), and RO for a read-only drive. One request queue of {@link #QUEUE_SIZE}.
 *
 * <p>Lifetime: {@link #open} opens the file; {@link #close} closes it once. Thread-safety: per the
 * {@link VirtioDevice} contract (the transport serializes processing of the one queue); the configuration space
 * is immutable.
 */
public final class VirtioBlk implements VirtioDevice {
    /** Entries in the request queue: QEMU's default queue-size. */
    public static final int QUEUE_SIZE = 256;
    /** The sector size of the protocol, and the block size offered. */
    public static final int SECTOR = 512;
    /** GET_ID answers at most this many bytes. */
    public static final int ID_BYTES = 20;

    /** Feature bits (5.2.3). */
    public static final int F_SEG_MAX = 2, F_RO = 5, F_BLK_SIZE = 6, F_FLUSH = 9;
    /** Request types (5.2.6). */
    public static final int T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8;
    /** Request status (5.2.6). */
    public static final int S_OK = 0, S_IOERR = 1, S_UNSUPP = 2;

    /**
     * The configuration space up to and including num_queues: le64 capacity, le32 size_max, le32 seg_max,
     * geometry (4 bytes), le32 blk_size, topology (8 bytes), u8 writeback, u8 unused, le16 num_queues.
     */
    static final int CONFIG_SIZE = 36;
    private static final int HEADER = 16;

    private final FileChannel file;
    private final Path path;
    private final boolean readOnly;
    private final long capacity;
    private final byte[] serial;
    private final byte[] config = new byte[CONFIG_SIZE];
    private final AtomicBoolean closed = new AtomicBoolean();

    // Set at activate, cleared at reset; used by the processing thread only.
    private Virtqueue queue;
    private GuestByteBuffers buffers;
    private GuestMemory buffersMemory;

    private VirtioBlk(FileChannel file, Path path, boolean readOnly, long size, String serial) {
        this.file = file;
        this.path = path;
        this.readOnly = readOnly;
        this.capacity = (size + SECTOR - 1) / SECTOR;
        byte[] s = serial == null ? new byte[0] : serial.getBytes(StandardCharsets.UTF_8);
        this.serial = Arrays.copyOf(s, Math.min(s.length, ID_BYTES));
        putLe(0, 8, capacity);
        putLe(12, 4, QUEUE_SIZE - 2); // seg_max: a request's data buffers, leaving room for header and status
        putLe(20, 4, SECTOR);         // blk_size
    }

    /**
     * Opens {@code path} for reading, and writing unless {@code readOnly}; {@code serial} (or null) is what GET_ID
     * answers.
     *
     * @throws IOException when the file cannot be opened or sized
     */
    public static VirtioBlk open(Path path, boolean readOnly, String serial) throws IOException {
        FileChannel ch = readOnly ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            return new VirtioBlk(ch, path, readOnly, ch.size(), serial);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private void putLe(int offset, int size, long value) {
        for (int i = 0; i < size; i++) {
            config[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    /** The backing file. */
    public Path path() {
        return path;
    }

    /** Whether the disk is read-only (RO offered, writes refused). */
    public boolean readOnly() {
        return readOnly;
    }

    /** The capacity in 512-byte sectors: the file's size rounded up. */
    public long capacity() {
        return capacity;
    }

    @Override
    public int deviceId() {
        return Virtio.ID_BLOCK;
    }

    @Override
    public long features() {
        long f = Virtio.bit(F_SEG_MAX) | Virtio.bit(F_BLK_SIZE) | Virtio.bit(F_FLUSH);
        return readOnly ? f | Virtio.bit(F_RO) : f;
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
        for (int i = size - 1; i >= 0; i--) {
            v = (v << 8) | (config[offset + i] & 0xFF);
        }
        return v;
    }

    @Override
    public void writeConfig(int offset, int size, long value) {
        // Nothing is writable without CONFIG_WCE, which is not offered.
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
            q.push(c, handle(c));
        }
        q.notifyDriver();
    }

    /** Handles one request; returns the bytes written into the chain (data and status). */
    private long handle(DescriptorChain c) {
        if (c.readableBytes() < HEADER) {
            throw new VirtioProtocolException("queue 0: request of " + c.readableBytes()
                    + " device-readable bytes has no 16-byte header");
        }
        if (c.writableBytes() < 1) {
            throw new VirtioProtocolException("queue 0: request has no device-writable status byte");
        }
        int type = (int) c.readReadable(0, 4);
        long sector = c.readReadable(8, 8);
        long status = c.writableBytes() - 1;
        int result;
        long written = 1;
        switch (type) {
            case T_IN -> {
                result = inRange(sector, status) ? read(c, sector * SECTOR, status) : S_IOERR;
                if (result == S_OK) {
                    written += status;
                }
            }
            case T_OUT -> {
                long length = c.readableBytes() - HEADER;
                result = readOnly || !inRange(sector, length) ? S_IOERR : write(c, sector * SECTOR, length);
            }
            case T_FLUSH -> result = flush();
            case T_GET_ID -> {
                int n = (int) Math.min(Math.min(serial.length + 1, status), ID_BYTES);
                for (int i = 0; i < n; i++) {
                    c.writeWritable(i, 1, i < serial.length ? serial[i] : 0);
                }
                written += n;
                result = S_OK;
            }
            default -> result = S_UNSUPP;
        }
        c.writeWritable(status, 1, result);
        return written;
    }

    /** Whether {@code length} bytes from {@code sector} are whole sectors within the disk. */
    private boolean inRange(long sector, long length) {
        return length % SECTOR == 0 && Long.compareUnsigned(sector, capacity) <= 0
                && length / SECTOR <= capacity - sector;
    }

    /** Reads {@code length} bytes at {@code position} of the file into the chain's writable buffers. */
    private int read(DescriptorChain c, long position, long length) {
        long pos = position, left = length;
        try {
            for (int i = c.firstWritable(); i < c.count() && left > 0; i++) {
                long address = c.address(i), todo = Math.min(c.length(i), left);
                while (todo > 0) {
                    ByteBuffer b = buffers.view(address, todo);
                    int n = b.remaining();
                    long at = pos;
                    while (b.hasRemaining()) {
                        int r = file.read(b, at);
                        if (r <= 0) {
                            // Past the end of the file (its last, partial sector): zeros, as QEMU reads them.
                            while (b.hasRemaining()) {
                                b.put((byte) 0);
                            }
                            break;
                        }
                        at += r;
                    }
                    address += n;
                    todo -= n;
                    pos += n;
                    left -= n;
                }
            }
            return S_OK;
        } catch (IOException e) {
            return S_IOERR;
        }
    }

    /** Writes {@code length} bytes of the chain's readable buffers, after the header, at {@code position}. */
    private int write(DescriptorChain c, long position, long length) {
        long pos = position, left = length, skip = HEADER;
        try {
            for (int i = 0; i < c.firstWritable() && left > 0; i++) {
                long len = c.length(i);
                if (skip >= len) {
                    skip -= len;
                    continue;
                }
                long address = c.address(i) + skip, todo = Math.min(len - skip, left);
                skip = 0;
                while (todo > 0) {
                    ByteBuffer b = buffers.view(address, todo);
                    int n = b.remaining();
                    long at = pos;
                    while (b.hasRemaining()) {
                        int w = file.write(b, at);
                        if (w <= 0) {
                            return S_IOERR;
                        }
                        at += w;
                    }
                    address += n;
                    todo -= n;
                    pos += n;
                    left -= n;
                }
            }
            return S_OK;
        } catch (IOException e) {
            return S_IOERR;
        }
    }

    private int flush() {
        if (readOnly) {
            return S_OK;
        }
        try {
            file.force(false);
            return S_OK;
        } catch (IOException e) {
            return S_IOERR;
        }
    }

    /** Closes the file once. Writes not yet flushed stay in the host's page cache, as after a kill. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                file.close();
            } catch (IOException e) {
                // Nothing is lost by a failed close of a file whose data is in the page cache; nothing to do.
            }
        }
    }

    @Override
    public String toString() {
        return "virtio-blk[" + path + (readOnly ? ", read-only" : "") + ", " + capacity + " sectors]";
    }
}
