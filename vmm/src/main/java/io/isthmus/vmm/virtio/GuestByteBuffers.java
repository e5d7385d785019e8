package io.isthmus.vmm.virtio;

import java.nio.ByteBuffer;
import java.util.List;

import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.kvm.memory.GuestRegion;

/**
 * {@link ByteBuffer} views of guest RAM for channel I/O straight into and out of the guest's buffers (zero copy),
 * made once and repositioned per use, so a request allocates nothing.
 *
 * <p>A {@code ByteBuffer} holds at most 2 GiB, so each region is covered by windows that start every 1 GiB and
 * reach up to 2 GiB - 4 KiB: any address has at least 1 GiB - 4 KiB of its window ahead of it, and a longer range
 * is done in pieces ({@link #view} covers a prefix). The windows come from the regions' host segments, so they
 * cannot reach outside guest RAM and become unusable (IllegalStateException, not a fault) once the memory is
 * closed.
 *
 * <p>Lifetime: that of the guest memory. Not thread-safe: {@code view} repositions a shared window; each queue
 * worker has its own instance.
 */
final class GuestByteBuffers {
    private static final int WINDOW_SHIFT = 30;
    private static final long WINDOW_SPAN = (1L << 31) - (1L << 12);

    private final long[] starts;
    private final long[] sizes;
    private final ByteBuffer[][] windows;

    GuestByteBuffers(GuestMemory memory) {
        List<GuestRegion> regions = memory.regions();
        starts = new long[regions.size()];
        sizes = new long[regions.size()];
        windows = new ByteBuffer[regions.size()][];
        for (int r = 0; r < regions.size(); r++) {
            GuestRegion region = regions.get(r);
            starts[r] = region.start();
            sizes[r] = region.size();
            int n = (int) ((region.size() + (1L << WINDOW_SHIFT) - 1) >>> WINDOW_SHIFT);
            windows[r] = new ByteBuffer[n];
            for (int k = 0; k < n; k++) {
                long from = (long) k << WINDOW_SHIFT;
                windows[r][k] = region.host().asSlice(from, Math.min(region.size() - from, WINDOW_SPAN)).asByteBuffer();
            }
        }
    }

    /**
     * A buffer whose position is guest-physical {@code address} and whose remaining bytes are the first
     * {@code min(length, n)} bytes from there, {@code n} being at least 1 GiB - 4 KiB or the rest of the region;
     * or {@code null} when {@code address} is not RAM. Valid until the next call.
     */
    ByteBuffer view(long address, long length) {
        for (int r = 0; r < starts.length; r++) {
            long offset = address - starts[r];
            if (Long.compareUnsigned(offset, sizes[r]) < 0) {
                int k = (int) (offset >>> WINDOW_SHIFT);
                ByteBuffer w = windows[r][k];
                int at = (int) (offset - ((long) k << WINDOW_SHIFT));
                int n = (int) Math.min(length, w.capacity() - at);
                w.limit(at + n);
                w.position(at);
                return w;
            }
        }
        return null;
    }
}
