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
import java.lang.invoke.VarHandle;

/**
 * errno-capturing downcalls into the C library: the system calls the toolkit makes.
 *
 * <p>Every call captures errno with {@link Linker.Option#captureCallState} into a scratch segment owned by the
 * calling thread, allocated once per thread, so a call allocates nothing. The {@code raw} forms return the
 * result or {@code -errno} (the kernel's own convention) and never throw: they are for hot paths such as
 * {@code KVM_RUN}. The other forms throw {@link NativeException} naming the operation.
 *
 * <p>Stateless apart from the per-thread scratch; safe to call from any thread.
 */
public final class Libc {
    // Values from the x86-64 Linux and glibc headers; the layout conformance test checks each against C.
    public static final int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;
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
    private static final VarHandle ERRNO =
            CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE = Linker.Option.captureCallState("errno");
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Linked on first use: each downcall handle costs milliseconds to spin up, and most programs use few. */
    private static final class OPEN_ {
        static final MethodHandle H = errnoHandle("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), 2);
    }
    private static final class CLOSE_ {
        static final MethodHandle H = errnoHandle("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }
    private static final class IOCTL_LONG_ {
        static final MethodHandle H = errnoHandle("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), 2);
    }
    private static final class IOCTL_PTR_ {
        static final MethodHandle H = errnoHandle("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), 2);
    }
    private static final class MMAP_ {
        static final MethodHandle H = errnoHandle("mmap", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    }
    private static final class MUNMAP_ {
        static final MethodHandle H = errnoHandle("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class MADVISE_ {
        static final MethodHandle H = errnoHandle("madvise", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    }
    private static final class MPROTECT_ {
        static final MethodHandle H = errnoHandle("mprotect", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    }
    private static final class READ_ {
        static final MethodHandle H = errnoHandle("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class WRITE_ {
        static final MethodHandle H = errnoHandle("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class PREAD_ {
        static final MethodHandle H = errnoHandle("pread", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    }
    private static final class PWRITE_ {
        static final MethodHandle H = errnoHandle("pwrite", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    }
    private static final class EVENTFD_ {
        static final MethodHandle H = errnoHandle("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class MEMFD_CREATE_ {
        static final MethodHandle H = errnoHandle("memfd_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class FTRUNCATE_ {
        static final MethodHandle H = errnoHandle("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    }
    private static final class POLL_ {
        static final MethodHandle H = errnoHandle("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    }
    private static final class SYSCONF_ {
        static final MethodHandle H = errnoHandle("sysconf", FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
    }
    private static final class GETTID_ {
        static final MethodHandle H = errnoHandle("gettid", FunctionDescriptor.of(JAVA_INT));
    }
    private static final class GETPID_ {
        static final MethodHandle H = errnoHandle("getpid", FunctionDescriptor.of(JAVA_INT));
    }
    private static final class TGKILL_ {
        static final MethodHandle H = errnoHandle("tgkill", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class PTHREAD_SIGMASK_ {
        static final MethodHandle H = errnoHandle("pthread_sigmask", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    }
    private static final class SIGTIMEDWAIT_ {
        static final MethodHandle H = errnoHandle("sigtimedwait", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    }
    private static final class SIGEMPTYSET_ {
        static final MethodHandle H = errnoHandle("sigemptyset", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }
    private static final class SIGADDSET_ {
        static final MethodHandle H = errnoHandle("sigaddset", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class SIGDELSET_ {
        static final MethodHandle H = errnoHandle("sigdelset", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class SIGISMEMBER_ {
        static final MethodHandle H = errnoHandle("sigismember", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class STRERROR_ {
        static final MethodHandle H = LINKER.downcallHandle(
            LINKER.defaultLookup().findOrThrow("strerror"), FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    private Libc() {}

    /** Per-thread native scratch: the errno capture and a few bytes for small in/out arguments. */
    private static final class Scratch {
        final MemorySegment capture;
        final MemorySegment small;

        Scratch() {
            // Auto arena: the memory lives as long as the thread's Scratch is reachable.
            Arena arena = Arena.ofAuto();
            capture = arena.allocate(CAPTURE_LAYOUT);
            small = arena.allocate(64, 8);
        }
    }

    private static MethodHandle errnoHandle(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow(name), descriptor, CAPTURE);
    }

    private static MethodHandle errnoHandle(String name, FunctionDescriptor descriptor, int firstVariadic) {
        return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow(name), descriptor, CAPTURE,
                Linker.Option.firstVariadicArg(firstVariadic));
    }

    private static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
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

    // ---- raw forms: result or -errno, never throw, allocate nothing ----

    /** {@code ioctl(fd, request, arg)} with an integer argument: the result, or {@code -errno}. */
    public static int ioctlRaw(int fd, long request, long arg) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            int r = (int) IOCTL_LONG_.H.invokeExact(cap, fd, request, arg);
            return r == -1 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@code ioctl(fd, request, arg)} with a pointer argument: the result, or {@code -errno}. */
    public static int ioctlRaw(int fd, long request, MemorySegment arg) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            int r = (int) IOCTL_PTR_.H.invokeExact(cap, fd, request, arg);
            return r == -1 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@code read(fd, buf, count)}: bytes read, or {@code -errno}. */
    public static long readRaw(int fd, MemorySegment buf, long count) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            long r = (long) READ_.H.invokeExact(cap, fd, buf, count);
            return r == -1 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@code write(fd, buf, count)}: bytes written, or {@code -errno}. */
    public static long writeRaw(int fd, MemorySegment buf, long count) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            long r = (long) WRITE_.H.invokeExact(cap, fd, buf, count);
            return r == -1 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@code pread(fd, buf, count, offset)}: bytes read, or {@code -errno}. */
    public static long preadRaw(int fd, MemorySegment buf, long count, long offset) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            long r = (long) PREAD_.H.invokeExact(cap, fd, buf, count, offset);
            return r == -1 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@code pwrite(fd, buf, count, offset)}: bytes written, or {@code -errno}. */
    public static long pwriteRaw(int fd, MemorySegment buf, long count, long offset) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            long r = (long) PWRITE_.H.invokeExact(cap, fd, buf, count, offset);
            return r == -1 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@code poll(fds, nfds, timeoutMillis)}: the number of ready descriptors, or {@code -errno}. */
    public static int pollRaw(MemorySegment fds, long nfds, int timeoutMillis) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            int r = (int) POLL_.H.invokeExact(cap, fds, nfds, timeoutMillis);
            return r == -1 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    // ---- throwing forms ----

    static int check(int result, String operation) {
        if (result < 0) {
            throw new NativeException(operation, -result);
        }
        return result;
    }

    static long check(long result, String operation) {
        if (result < 0) {
            throw new NativeException(operation, (int) -result);
        }
        return result;
    }

    /** {@code open(path, flags)}; the caller owns the returned descriptor. */
    public static int open(String path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cap = SCRATCH.get().capture;
            int r = (int) OPEN_.H.invokeExact(cap, arena.allocateFrom(path), flags, 0);
            if (r == -1) {
                throw new NativeException("open " + path, errno(cap));
            }
            return r;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@code close(fd)}: 0, or {@code -errno}. */
    public static int closeRaw(int fd) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            int r = (int) CLOSE_.H.invokeExact(cap, fd);
            return r == -1 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /**
     * {@code mmap(NULL, length, prot, flags, fd, offset)}. Returns a zero-length segment at the mapping's
     * address; {@link Mmap} is the safe form that sizes it and ties its unmapping to an arena.
     */
    static MemorySegment mmap(long length, int prot, int flags, int fd, long offset, String what) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            MemorySegment r = (MemorySegment) MMAP_.H.invokeExact(cap, MemorySegment.NULL, length, prot, flags, fd, offset);
            if (r.address() == -1L) {
                throw new NativeException("mmap " + what, errno(cap));
            }
            return r;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@code munmap(address, length)}: 0, or {@code -errno}. */
    static int munmapRaw(long address, long length) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            int r = (int) MUNMAP_.H.invokeExact(cap, MemorySegment.ofAddress(address), length);
            return r == -1 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@code madvise} over the whole of {@code region}. */
    public static void madvise(MemorySegment region, int advice) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            int r = (int) MADVISE_.H.invokeExact(cap, region, region.byteSize(), advice);
            if (r == -1) {
                throw new NativeException("madvise " + advice + " on " + region.byteSize() + " bytes", errno(cap));
            }
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@code mprotect} over the whole of {@code region}. */
    public static void mprotect(MemorySegment region, int prot) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            int r = (int) MPROTECT_.H.invokeExact(cap, region, region.byteSize(), prot);
            if (r == -1) {
                throw new NativeException("mprotect " + prot + " on " + region.byteSize() + " bytes", errno(cap));
            }
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@code eventfd(initval, flags)}; the caller owns the returned descriptor. */
    public static int eventfd(int initval, int flags) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            int r = (int) EVENTFD_.H.invokeExact(cap, initval, flags);
            if (r == -1) {
                throw new NativeException("eventfd", errno(cap));
            }
            return r;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@code memfd_create(name, flags)}; the caller owns the returned descriptor. */
    public static int memfdCreate(String name, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cap = SCRATCH.get().capture;
            int r = (int) MEMFD_CREATE_.H.invokeExact(cap, arena.allocateFrom(name), flags);
            if (r == -1) {
                throw new NativeException("memfd_create " + name, errno(cap));
            }
            return r;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@code ftruncate(fd, length)}. */
    public static void ftruncate(int fd, long length, String what) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            int r = (int) FTRUNCATE_.H.invokeExact(cap, fd, length);
            if (r == -1) {
                throw new NativeException("ftruncate " + what + " to " + length, errno(cap));
            }
        } catch (Throwable t) {
            throw wrap(t);
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

    /** The page size, read once on first use. */
    private static final class PageSize {
        static final long VALUE = sysconf(_SC_PAGESIZE);
    }

    /** Size of the C library's {@code sigset_t} (the kernel's own is 8 bytes). */
    public static long sigsetSize() {
        return io.isthmus.bindings.libc.sigset_t.sizeof();
    }

    /** The host's page size in bytes. */
    public static long pageSize() {
        return PageSize.VALUE;
    }

    /** The calling thread's kernel thread id. */
    public static int gettid() {
        try {
            return (int) GETTID_.H.invokeExact(SCRATCH.get().capture);
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** The process id. */
    public static int getpid() {
        try {
            return (int) GETPID_.H.invokeExact(SCRATCH.get().capture);
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@code tgkill(tgid, tid, sig)}: 0, or {@code -errno}. Allocates nothing. */
    public static int tgkillRaw(int tgid, int tid, int sig) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            int r = (int) TGKILL_.H.invokeExact(cap, tgid, tid, sig);
            return r == -1 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@code pthread_sigmask(how, set, oldset)} for the calling thread; {@code oldset} may be NULL. */
    public static void pthreadSigmask(int how, MemorySegment set, MemorySegment oldset) {
        try {
            // pthread_sigmask returns the error number instead of setting errno.
            int r = (int) PTHREAD_SIGMASK_.H.invokeExact(SCRATCH.get().capture, how, set, oldset);
            if (r != 0) {
                throw new NativeException("pthread_sigmask", r);
            }
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /**
     * {@code sigtimedwait(set, NULL, timeout)}: the signal number taken, or {@code -errno} ({@code -EAGAIN}
     * when none was pending within the timeout).
     */
    public static int sigtimedwaitRaw(MemorySegment set, MemorySegment timespec) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            int r = (int) SIGTIMEDWAIT_.H.invokeExact(cap, set, MemorySegment.NULL, timespec);
            return r == -1 ? -errno(cap) : r;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** {@code sigemptyset(set)}; {@code set} is a C {@code sigset_t} of {@link #sigsetSize()} bytes. */
    public static void sigemptyset(MemorySegment set) {
        sigsetOp(SIGEMPTYSET_.H, set, 0, "sigemptyset");
    }

    /** {@code sigaddset(set, sig)}. */
    public static void sigaddset(MemorySegment set, int sig) {
        sigsetOp(SIGADDSET_.H, set, sig, "sigaddset");
    }

    /** {@code sigdelset(set, sig)}. */
    public static void sigdelset(MemorySegment set, int sig) {
        sigsetOp(SIGDELSET_.H, set, sig, "sigdelset");
    }

    /** {@code sigismember(set, sig)}. */
    public static boolean sigismember(MemorySegment set, int sig) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            int r = (int) SIGISMEMBER_.H.invokeExact(cap, set, sig);
            if (r == -1) {
                throw new NativeException("sigismember " + sig, errno(cap));
            }
            return r == 1;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    private static void sigsetOp(MethodHandle op, MemorySegment set, int sig, String name) {
        MemorySegment cap = SCRATCH.get().capture;
        try {
            int r = op == SIGEMPTYSET_.H ? (int) op.invokeExact(cap, set) : (int) op.invokeExact(cap, set, sig);
            if (r == -1) {
                throw new NativeException(name + " " + sig, errno(cap));
            }
        } catch (Throwable t) {
            throw wrap(t);
        }
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
