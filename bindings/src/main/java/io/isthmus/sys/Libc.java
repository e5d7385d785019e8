package io.isthmus.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

/**
 * errno-capturing downcalls into the C library: the system calls the toolkit makes.
 *
 * <p>Every call captures errno with {@link Linker.Option#captureCallState} into a scratch segment owned by the
 * calling thread, allocated once per thread, so a call allocates nothing. The {@code raw} forms return the
 * result or {@code -errno} (the kernel's own convention) and never throw: they are for hot paths such as
 * {@code KVM_RUN}. The other forms throw {@link NativeException} naming the operation.
 *
 * <p>Fault injection for tests ({@link FailNth}), as the kernel's {@code fail-nth} does for its allocations: the
 * calling thread's Nth system call from now fails with a chosen errno, without being made. Every form counts except
 * the hot-path raw ones ({@code ioctlRaw}, {@code readRaw}, {@code writeRaw}, {@code preadRaw}, {@code pwriteRaw},
 * {@code pollRaw}, {@code tgkillRaw}, {@code sigtimedwaitRaw}, {@code gettid}, {@code getpid}) and the releasing ones
 * ({@code closeRaw}, {@code munmapRaw}: Linux always releases a descriptor on close and a valid mapping on munmap,
 * so failing them would only model leaks the kernel cannot cause). Setup ioctls go through {@link #ioctl(int, long,
 * long)}, which counts, so {@code KVM_RUN}'s path ({@code ioctlRaw}) carries no check at all.
 *
 * <p>Stateless apart from the per-thread scratch; safe to call from any thread.
 */
public final class Libc {
    // Values from the x86-64 Linux and glibc headers; the layout conformance test checks each against C.
    public static final int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_NOCTTY = 0x100, O_NONBLOCK = 0x800,
            O_CLOEXEC = 0x80000;
    public static final int PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    public static final int MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20,
            MAP_NORESERVE = 0x4000, MAP_POPULATE = 0x8000, MAP_HUGETLB = 0x40000;
    public static final int MADV_DONTNEED = 4, MADV_HUGEPAGE = 14;
    public static final int EFD_SEMAPHORE = 1, EFD_NONBLOCK = 0x800, EFD_CLOEXEC = 0x80000;
    public static final int MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2, MFD_HUGETLB = 4;
    public static final int POLLIN = 1, POLLOUT = 4, POLLERR = 8, POLLHUP = 16;
    public static final int SIG_BLOCK = 0, SIG_UNBLOCK = 1, SIG_SETMASK = 2;
    public static final int SIGUSR1 = 10, SIGUSR2 = 12;
    public static final int _SC_PAGESIZE = 30, _SC_NPROCESSORS_ONLN = 84;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    // An offset, not a layout VarHandle: building a path VarHandle spins method handles at startup.
    private static final long ERRNO_OFFSET = CAPTURE_LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement("errno"));
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    // x86-64 Linux system call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
    private static final long SYS_READ = 0, SYS_WRITE = 1, SYS_CLOSE = 3, SYS_POLL = 7, SYS_MMAP = 9,
            SYS_MPROTECT = 10, SYS_MUNMAP = 11, SYS_RT_SIGPROCMASK = 14, SYS_IOCTL = 16, SYS_PREAD64 = 17,
            SYS_PWRITE64 = 18, SYS_MADVISE = 28, SYS_GETPID = 39, SYS_FTRUNCATE = 77, SYS_RT_SIGTIMEDWAIT = 128,
            SYS_GETTID = 186, SYS_TGKILL = 234, SYS_OPENAT = 257, SYS_EVENTFD2 = 290, SYS_MEMFD_CREATE = 319;
    private static final long AT_FDCWD = -100;
    /** The kernel's sigset_t: 64 signals, one bit each (bit n-1 = signal n); glibc's is 128 bytes, this first. */
    private static final long KERNEL_SIGSET_SIZE = 8;
    private static final int EINVAL = 22;

    /**
     * The one downcall every system call goes through: libc's {@code long syscall(long number, ...)} with six
     * long arguments after the number (pointers as addresses; unused ones 0), errno captured. Each distinct
     * downcall shape spins its own method-handle stubs on first link — tens of milliseconds of startup each,
     * which the AOT cache does not keep — so one shape for all of them is linked once, on first use.
     *
     * <p>Linked as a plain (non-variadic) function of seven longs: linking it as variadic costs another ~15 ms
     * of spinning for nothing on x86-64, where variadic and fixed integer arguments travel in the same
     * registers and stack slots and the only difference, {@code %al} (the count of vector registers used), is
     * not read by glibc's {@code syscall}, which is assembly that moves the arguments into place and traps.
     */
    private static final class SYSCALL_ {
        static final MethodHandle H = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("syscall"),
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                        JAVA_LONG),
                Linker.Option.captureCallState("errno"));
    }
    /** Used only for {@link #sysconf} callers outside the startup path; linked on first use. */
    private static final class SYSCONF_ {
        static final MethodHandle H = LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow("sysconf"),
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT), Linker.Option.captureCallState("errno"));
    }
    /** Used only to describe a failure; linked on first use. */
    private static final class STRERROR_ {
        static final MethodHandle H = LINKER.downcallHandle(
            LINKER.defaultLookup().findOrThrow("strerror"), FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    private Libc() {}

    /** Per-thread native scratch: the errno capture and a few bytes for small in/out arguments. */
    private static final class Scratch {
        final MemorySegment capture;
        final MemorySegment small;
        /** {@link FailNth}: counted calls to go until the injected failure (0: disarmed), its errno, the tally. */
        int failIn, failErrno, counted;
        boolean failed;

        Scratch() {
            // Auto arena: the memory lives as long as the thread's Scratch is reachable.
            Arena arena = Arena.ofAuto();
            capture = arena.allocate(CAPTURE_LAYOUT);
            small = arena.allocate(64, 8);
        }
    }

    private static int errno(MemorySegment capture) {
        return capture.get(JAVA_INT, ERRNO_OFFSET);
    }

    /**
     * {@code syscall(nr, a..f)}: the kernel's result, or {@code -errno}. Allocates nothing. The C library
     * returns -1 and sets errno for the kernel's -4095..-1; no system call made here returns -1 on success.
     */
    private static long syscall(long nr, long a, long b, long c, long d, long e, long f) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            long r = (long) SYSCALL_.H.invokeExact(cap, nr, a, b, c, d, e, f);
            return r == -1 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /**
     * {@link #syscall} for the calls that fault injection counts: while {@link FailNth} is armed on this thread, the
     * Nth one returns {@code -errno} without being made.
     */
    private static long counted(long nr, long a, long b, long c, long d, long e, long f) {
        Scratch s = SCRATCH.get();
        if (s.failIn > 0) {
            s.counted++;
            if (--s.failIn == 0) {
                s.failed = true;
                return -s.failErrno;
            }
        }
        return syscall(nr, a, b, c, d, e, f);
    }

    /**
     * Test seam: make the calling thread's Nth counted system call fail, as the kernel's
     * {@code /proc/thread-self/fail-nth} makes its Nth fault-injection site fail. A test arms it, runs an operation
     * and checks that the operation failed cleanly (naming the step, releasing what it made), then arms N + 1,
     * until the operation completes without reaching the Nth call. Which calls count: see {@link Libc}. Per thread,
     * like the kernel's; nothing is counted on a thread that has not armed it.
     */
    public static final class FailNth {
        private FailNth() {}

        /** The calling thread's {@code n}th counted system call from now (1: the next) fails with {@code errno}. */
        public static void arm(int n, int errno) {
            if (n < 1 || errno < 1) {
                throw new IllegalArgumentException("fail-nth needs n >= 1 and an errno, got " + n + ", " + errno);
            }
            Scratch s = SCRATCH.get();
            s.failIn = n;
            s.failErrno = errno;
            s.counted = 0;
            s.failed = false;
        }

        /** Disarms the calling thread; returns whether the injected failure happened. */
        public static boolean disarm() {
            Scratch s = SCRATCH.get();
            s.failIn = 0;
            return s.failed;
        }

        /** Counted system calls the calling thread made (or had failed) since {@link #arm}. */
        public static int counted() {
            return SCRATCH.get().counted;
        }
    }

    /** A native segment's address for a pointer argument; NULL is 0. Heap segments have no stable address. */
    private static long addr(MemorySegment s) {
        if (!s.isNative()) {
            throw new IllegalArgumentException("heap segment not allowed as a native pointer: " + s);
        }
        return s.address();
    }

    /**
     * The calling thread's 64-byte scratch segment for small in/out arguments (an eventfd counter, a kernel
     * sigset). Valid for the thread's lifetime; the next call on the same thread may overwrite it.
     */
    public static MemorySegment threadScratch() {
        return SCRATCH.get().small;
    }

    private static RuntimeException wrap(Throwable t) {
        if (t instanceof RuntimeException re) {
            return re;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("native call failed", t);
    }

    /**
     * {@code ioctl(fd, request, arg)} with an integer argument, for setup rather than hot paths: the result or
     * {@code -errno}, counted by {@link FailNth}. {@link Fd#ioctl} goes through it.
     */
    public static int ioctl(int fd, long request, long arg) {
        return (int) counted(SYS_IOCTL, fd, request, arg, 0, 0, 0);
    }

    /** {@code ioctl(fd, request, arg)} with a pointer argument, for setup: the result or {@code -errno}, counted. */
    public static int ioctl(int fd, long request, MemorySegment arg) {
        return (int) counted(SYS_IOCTL, fd, request, addr(arg), 0, 0, 0);
    }

    // ---- raw forms: result or -errno, never throw, allocate nothing ----

    /** {@code ioctl(fd, request, arg)} with an integer argument: the result, or {@code -errno}. */
    public static int ioctlRaw(int fd, long request, long arg) {
        return (int) syscall(SYS_IOCTL, fd, request, arg, 0, 0, 0);
    }

    /** {@code ioctl(fd, request, arg)} with a pointer argument: the result, or {@code -errno}. */
    public static int ioctlRaw(int fd, long request, MemorySegment arg) {
        return (int) syscall(SYS_IOCTL, fd, request, addr(arg), 0, 0, 0);
    }

    /** {@code read(fd, buf, count)}: bytes read, or {@code -errno}. */
    public static long readRaw(int fd, MemorySegment buf, long count) {
        return syscall(SYS_READ, fd, addr(buf), count, 0, 0, 0);
    }

    /** {@code write(fd, buf, count)}: bytes written, or {@code -errno}. */
    public static long writeRaw(int fd, MemorySegment buf, long count) {
        return syscall(SYS_WRITE, fd, addr(buf), count, 0, 0, 0);
    }

    /** {@code pread(fd, buf, count, offset)}: bytes read, or {@code -errno}. */
    public static long preadRaw(int fd, MemorySegment buf, long count, long offset) {
        return syscall(SYS_PREAD64, fd, addr(buf), count, offset, 0, 0);
    }

    /** {@code pwrite(fd, buf, count, offset)}: bytes written, or {@code -errno}. */
    public static long pwriteRaw(int fd, MemorySegment buf, long count, long offset) {
        return syscall(SYS_PWRITE64, fd, addr(buf), count, offset, 0, 0);
    }

    /** {@code poll(fds, nfds, timeoutMillis)}: the number of ready descriptors, or {@code -errno}. */
    public static int pollRaw(MemorySegment fds, long nfds, int timeoutMillis) {
        return (int) syscall(SYS_POLL, addr(fds), nfds, timeoutMillis, 0, 0, 0);
    }

    // ---- throwing forms ----

    /** {@code open(path, flags)} (as {@code openat(AT_FDCWD, ...)}); the caller owns the returned descriptor. */
    public static int open(String path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            long r = counted(SYS_OPENAT, AT_FDCWD, arena.allocateFrom(path).address(), flags, 0, 0, 0);
            if (r < 0) {
                throw new NativeException("open " + path, (int) -r);
            }
            return (int) r;
        }
    }

    /** {@code close(fd)}: 0, or {@code -errno}. */
    public static int closeRaw(int fd) {
        return (int) syscall(SYS_CLOSE, fd, 0, 0, 0, 0, 0);
    }

    /**
     * {@code mmap(NULL, length, prot, flags, fd, offset)}. Returns a zero-length segment at the mapping's
     * address; {@link Mmap} is the safe form that sizes it and ties its unmapping to an arena.
     */
    static MemorySegment mmap(long length, int prot, int flags, int fd, long offset, String what) {
        long r = counted(SYS_MMAP, 0, length, prot, flags, fd, offset);
        if (r < 0 && r >= -4095) {
            throw new NativeException("mmap " + what, (int) -r);
        }
        return MemorySegment.ofAddress(r);
    }

    /** {@code munmap(address, length)}: 0, or {@code -errno}. */
    static int munmapRaw(long address, long length) {
        return (int) syscall(SYS_MUNMAP, address, length, 0, 0, 0, 0);
    }

    /** {@code madvise} over the whole of {@code region}. */
    public static void madvise(MemorySegment region, int advice) {
        long r = counted(SYS_MADVISE, addr(region), region.byteSize(), advice, 0, 0, 0);
        if (r < 0) {
            throw new NativeException("madvise " + advice + " on " + region.byteSize() + " bytes", (int) -r);
        }
    }

    /** {@code mprotect} over the whole of {@code region}. */
    public static void mprotect(MemorySegment region, int prot) {
        long r = counted(SYS_MPROTECT, addr(region), region.byteSize(), prot, 0, 0, 0);
        if (r < 0) {
            throw new NativeException("mprotect " + prot + " on " + region.byteSize() + " bytes", (int) -r);
        }
    }

    /** {@code eventfd(initval, flags)} (the kernel's eventfd2); the caller owns the returned descriptor. */
    public static int eventfd(int initval, int flags) {
        long r = counted(SYS_EVENTFD2, Integer.toUnsignedLong(initval), flags, 0, 0, 0, 0);
        if (r < 0) {
            throw new NativeException("eventfd", (int) -r);
        }
        return (int) r;
    }

    /** {@code memfd_create(name, flags)}; the caller owns the returned descriptor. */
    public static int memfdCreate(String name, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            long r = counted(SYS_MEMFD_CREATE, arena.allocateFrom(name).address(), flags, 0, 0, 0, 0);
            if (r < 0) {
                throw new NativeException("memfd_create " + name, (int) -r);
            }
            return (int) r;
        }
    }

    /** {@code ftruncate(fd, length)}. */
    public static void ftruncate(int fd, long length, String what) {
        long r = counted(SYS_FTRUNCATE, fd, length, 0, 0, 0, 0);
        if (r < 0) {
            throw new NativeException("ftruncate " + what + " to " + length, (int) -r);
        }
    }

    /** {@code sysconf(name)}. */
    public static long sysconf(int name) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            long r = (long) SYSCONF_.H.invokeExact(cap, name);
            if (r == -1) {
                throw new NativeException("sysconf " + name, errno(cap));
            }
            return r;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /**
     * The page size, read once on first use from the kernel's auxiliary vector ({@code AT_PAGESZ} in
     * /proc/self/auxv, where the C library's sysconf finds it too) through the one syscall downcall, so that
     * no second downcall shape is linked at startup; sysconf only if that fails.
     */
    private static final class PageSize {
        static final long VALUE = fromAuxv();

        private static long fromAuxv() {
            final long AT_NULL = 0, AT_PAGESZ = 6;
            try (Arena arena = Arena.ofConfined()) {
                int fd = open("/proc/self/auxv", O_RDONLY | O_CLOEXEC);
                try {
                    MemorySegment buf = arena.allocate(4096, 8);
                    long n = 0;
                    for (long r; n < buf.byteSize() && (r = readRaw(fd, buf.asSlice(n), buf.byteSize() - n)) > 0; ) {
                        n += r;
                    }
                    for (long off = 0; off + 16 <= n; off += 16) {
                        long type = buf.get(JAVA_LONG, off);
                        if (type == AT_PAGESZ) {
                            return buf.get(JAVA_LONG, off + 8);
                        }
                        if (type == AT_NULL) {
                            break;
                        }
                    }
                } finally {
                    closeRaw(fd);
                }
            } catch (RuntimeException e) {
                // fall through to sysconf
            }
            return sysconf(_SC_PAGESIZE);
        }
    }

    /**
     * Size of the C library's {@code sigset_t} (the kernel's own is 8 bytes). A literal, not the generated
     * {@code sigset_t.sizeof()}: initialising that class builds libc's whole layout table, ~20 ms at VMM startup.
     * {@code NativeLayerTest} checks it against the generated layout, which the layout test checks against gcc.
     */
    public static long sigsetSize() {
        return 128;
    }

    /** The host's page size in bytes. */
    public static long pageSize() {
        return PageSize.VALUE;
    }

    /** The calling thread's kernel thread id. */
    public static int gettid() {
        return (int) syscall(SYS_GETTID, 0, 0, 0, 0, 0, 0);
    }

    /** The process id. */
    public static int getpid() {
        return (int) syscall(SYS_GETPID, 0, 0, 0, 0, 0, 0);
    }

    /** {@code tgkill(tgid, tid, sig)}: 0, or {@code -errno}. Allocates nothing. */
    public static int tgkillRaw(int tgid, int tid, int sig) {
        return (int) syscall(SYS_TGKILL, tgid, tid, sig, 0, 0, 0);
    }

    /**
     * {@code pthread_sigmask(how, set, oldset)} for the calling thread; {@code oldset} may be NULL. Made as the
     * kernel's {@code rt_sigprocmask} on the first 8 bytes of each set (the kernel's sigset_t); unlike glibc's
     * wrapper it does not quietly drop glibc's internal signals (32, 33) from {@code set}: callers block only
     * the signals they own.
     */
    public static void pthreadSigmask(int how, MemorySegment set, MemorySegment oldset) {
        long r = counted(SYS_RT_SIGPROCMASK, how, addr(set), addr(oldset), KERNEL_SIGSET_SIZE, 0, 0);
        if (r < 0) {
            throw new NativeException("pthread_sigmask", (int) -r);
        }
    }

    /**
     * {@code sigtimedwait(set, NULL, timeout)} (the kernel's {@code rt_sigtimedwait}): the signal number taken,
     * or {@code -errno} ({@code -EAGAIN} when none was pending within the timeout).
     */
    public static int sigtimedwaitRaw(MemorySegment set, MemorySegment timespec) {
        return (int) syscall(SYS_RT_SIGTIMEDWAIT, addr(set), 0, addr(timespec), KERNEL_SIGSET_SIZE, 0, 0);
    }

    // sigset_t operations as plain bit operations, as glibc does them: signal n (1..64) is bit n-1 of the first
    // unsigned long; the rest of glibc's 128-byte set is kept zero. No downcall.

    /** {@code sigemptyset(set)}; {@code set} is a C {@code sigset_t} of {@link #sigsetSize()} bytes. */
    public static void sigemptyset(MemorySegment set) {
        set.asSlice(0, sigsetSize()).fill((byte) 0);
    }

    /** {@code sigaddset(set, sig)}. */
    public static void sigaddset(MemorySegment set, int sig) {
        set.set(JAVA_LONG, 0, set.get(JAVA_LONG, 0) | sigbit(sig, "sigaddset"));
    }

    /** {@code sigdelset(set, sig)}. */
    public static void sigdelset(MemorySegment set, int sig) {
        set.set(JAVA_LONG, 0, set.get(JAVA_LONG, 0) & ~sigbit(sig, "sigdelset"));
    }

    /** {@code sigismember(set, sig)}. */
    public static boolean sigismember(MemorySegment set, int sig) {
        return (set.get(JAVA_LONG, 0) & sigbit(sig, "sigismember")) != 0;
    }

    private static long sigbit(int sig, String name) {
        if (sig <= 0 || sig > 64) {
            throw new NativeException(name + " " + sig, EINVAL);
        }
        return 1L << (sig - 1);
    }

    /** The C library's text for {@code errno}. */
    public static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR_.H.invokeExact(errno);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            throw wrap(t);
        }
    }
}
