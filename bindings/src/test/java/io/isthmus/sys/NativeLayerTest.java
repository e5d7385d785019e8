package io.isthmus.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NativeLayerTest {

    @Test
    void openFailureNamesPathErrnoSymbolAndText() {
        NativeException e = assertThrows(NativeException.class,
                () -> Fd.open("/nonexistent/isthmus", Libc.O_RDONLY | Libc.O_CLOEXEC));
        assertEquals(Errno.ENOENT, e.errno());
        assertEquals("ENOENT", e.symbol());
        assertEquals("open /nonexistent/isthmus: ENOENT (No such file or directory)", e.getMessage());
    }

    @Test
    void ioctlFailureNamesRequestAndDescriptor(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("plain"), "x");
        try (Fd fd = Fd.open(file.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC)) {
            NativeException e = assertThrows(NativeException.class, () -> fd.ioctl(KvmIoctl.KVM_GET_API_VERSION));
            assertEquals(Errno.ENOTTY, e.errno());
            assertEquals("ioctl KVM_GET_API_VERSION on " + file + ": ENOTTY (Inappropriate ioctl for device)",
                    e.getMessage());
            assertEquals(-Errno.ENOTTY, fd.ioctlRaw(KvmIoctl.KVM_CREATE_VM, 0));
        }
    }

    @Test
    void fdClosesExactlyOnceAndLaterCallsFailWithEbadf(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("f"), "x");
        Fd fd = Fd.open(file.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
        int number = fd.get();
        fd.close();
        fd.close();
        assertTrue(fd.isClosed());
        assertEquals(-1, fd.get());
        // The number itself is gone from the process: closing it again is EBADF.
        assertEquals(-Errno.EBADF, Libc.closeRaw(number));
        NativeException e = assertThrows(NativeException.class, () -> fd.ioctl(KvmIoctl.KVM_RUN));
        assertEquals(Errno.EBADF, e.errno());
    }

    @Test
    void mmapIsBoundedAndUnmappedWithItsArena() {
        long page = Libc.pageSize();
        assertEquals(4096, page);
        MemorySegment kept;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = Mmap.anonymous(arena, 2 * page, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE,
                    "test region");
            assertEquals(2 * page, m.byteSize());
            m.set(ValueLayout.JAVA_LONG, 2 * page - 8, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, m.get(ValueLayout.JAVA_LONG, 2 * page - 8));
            assertThrows(IndexOutOfBoundsException.class, () -> m.get(ValueLayout.JAVA_BYTE, 2 * page));
            kept = m;
        }
        assertThrows(IllegalStateException.class, () -> kept.get(ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void mmapFailureNamesTheMapping() {
        try (Arena arena = Arena.ofConfined()) {
            NativeException e = assertThrows(NativeException.class, () -> Mmap.anonymous(arena, 1L << 62,
                    Libc.PROT_READ, Libc.MAP_PRIVATE, "huge"));
            assertEquals(Errno.ENOMEM, e.errno());
            assertTrue(e.getMessage().startsWith("mmap huge ("), e.getMessage());
        }
    }

    @Test
    void eventfdCountsSignals() {
        try (EventFd efd = EventFd.create(Libc.EFD_NONBLOCK, "test eventfd")) {
            assertEquals(0, efd.read());
            efd.signal(3);
            efd.signal(4);
            assertEquals(7, efd.await(1000));
            assertEquals(0, efd.await(10));
        }
    }

    @Test
    void memfdIsSizedAndShared() {
        int raw = Libc.memfdCreate("isthmus-test", Libc.MFD_CLOEXEC);
        try (Fd fd = Fd.adopt(raw, "memfd isthmus-test"); Arena arena = Arena.ofConfined()) {
            Libc.ftruncate(fd.get(), 8192, fd.name());
            MemorySegment a = Mmap.map(arena, fd, 0, 8192, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, "a");
            MemorySegment b = Mmap.map(arena, fd, 4096, 4096, Libc.PROT_READ, Libc.MAP_SHARED, "b");
            a.set(ValueLayout.JAVA_INT, 4096, 42);
            assertEquals(42, b.get(ValueLayout.JAVA_INT, 0));
        }
    }

    @Test
    void errnoSymbolsRoundTrip() {
        assertEquals("EBUSY", Errno.symbol(16));
        assertEquals(Errno.EBUSY, Errno.valueOf("EBUSY"));
        assertEquals("errno 9999", Errno.symbol(9999));
        assertEquals("Device or resource busy", Errno.text(Errno.EBUSY));
    }

    @Test
    void sigsetSizeLiteralMatchesTheGeneratedLayout() {
        assertEquals(io.isthmus.bindings.libc.sigset_t.sizeof(), Libc.sigsetSize());
    }

    @Test
    void signalsCanBeBlockedTakenAndUnblockedWithoutDelivery() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment set = arena.allocate(Libc.sigsetSize(), 8);
            Libc.sigemptyset(set);
            Libc.sigaddset(set, Libc.SIGUSR2);
            assertTrue(Libc.sigismember(set, Libc.SIGUSR2));
            Libc.pthreadSigmask(Libc.SIG_BLOCK, set, MemorySegment.NULL);
            try {
                assertEquals(0, Libc.tgkillRaw(Libc.getpid(), Libc.gettid(), Libc.SIGUSR2));
                MemorySegment timeout = arena.allocate(16, 8);
                timeout.set(ValueLayout.JAVA_LONG, 0, 1);
                assertEquals(Libc.SIGUSR2, Libc.sigtimedwaitRaw(set, timeout));
                timeout.set(ValueLayout.JAVA_LONG, 0, 0);
                assertEquals(-Errno.EAGAIN, Libc.sigtimedwaitRaw(set, timeout));
            } finally {
                Libc.pthreadSigmask(Libc.SIG_UNBLOCK, set, MemorySegment.NULL);
            }
        }
    }
}
