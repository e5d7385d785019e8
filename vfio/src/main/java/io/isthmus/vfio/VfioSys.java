package io.isthmus.vfio;

import io.isthmus.sys.Libc;
import io.isthmus.sys.Mmap;
import io.isthmus.sys.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The one seam through which every VFIO system call passes: open, ioctl, pread/pwrite on region offsets, mmap
 * and close. {@link #linux()} is the kernel; tests substitute a twin that returns canned kernel answers, so
 * the container, group and device logic (the argsz/capability protocol, error naming) is exercised without
 * {@code /dev/vfio}.
 *
 * <p>Conventions follow the kernel's: the {@code int}/{@code long} results are the value or {@code -errno}.
 * Implementations must be thread-safe; {@link #linux()} is stateless apart from libc's per-thread scratch.
 */
public interface VfioSys {

    /** Opens {@code path} read-write, close-on-exec; returns the descriptor or {@code -errno}. */
    int open(String path);

    /** {@code ioctl(fd, request, arg)} with an integer argument: the result or {@code -errno}. */
    int ioctl(int fd, long request, long arg);

    /** {@code ioctl(fd, request, arg)} with a pointer argument: the result or {@code -errno}. */
    int ioctl(int fd, long request, MemorySegment arg);

    /** {@code pread}: bytes read or {@code -errno}. */
    long pread(int fd, MemorySegment buf, long offset);

    /** {@code pwrite}: bytes written or {@code -errno}. */
    long pwrite(int fd, MemorySegment buf, long offset);

    /**
     * {@code mmap(NULL, length, prot, MAP_SHARED, fd, offset)}, unmapped when {@code arena} closes.
     *
     * @throws NativeException when the kernel refuses
     */
    MemorySegment mmap(Arena arena, int fd, long offset, long length, int prot, String what);

    /** {@code close(fd)}: 0 or {@code -errno}. */
    int close(int fd);

    /** The Linux kernel, through {@link Libc}. */
    static VfioSys linux() {
        return Linux.INSTANCE;
    }

    /** The real kernel. */
    final class Linux implements VfioSys {
        static final Linux INSTANCE = new Linux();

        private Linux() {}

        @Override
        public int open(String path) {
            try {
                return Libc.open(path, Libc.O_RDWR | Libc.O_CLOEXEC);
            } catch (NativeException e) {
                return -e.errno();
            }
        }

        @Override
        public int ioctl(int fd, long request, long arg) {
            return Libc.ioctl(fd, request, arg);
        }

        @Override
        public int ioctl(int fd, long request, MemorySegment arg) {
            return Libc.ioctl(fd, request, arg);
        }

        @Override
        public long pread(int fd, MemorySegment buf, long offset) {
            return Libc.preadRaw(fd, buf, buf.byteSize(), offset);
        }

        @Override
        public long pwrite(int fd, MemorySegment buf, long offset) {
            return Libc.pwriteRaw(fd, buf, buf.byteSize(), offset);
        }

        @Override
        public MemorySegment mmap(Arena arena, int fd, long offset, long length, int prot, String what) {
            return Mmap.map(arena, fd, offset, length, prot, Libc.MAP_SHARED, what);
        }

        @Override
        public int close(int fd) {
            return Libc.closeRaw(fd);
        }
    }
}
