package io.isthmus.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link Libc.FailNth}, the fault-injection seam: which calls count, the failure's errno, per-thread arming. */
class FailNthSeamTest {

    @AfterEach
    void disarm() {
        Libc.FailNth.disarm();
    }

    @Test
    void theNthCountedCallFailsWithTheErrnoWithoutBeingMade() {
        Libc.FailNth.arm(2, Errno.EMFILE);
        try (Fd first = Fd.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC)) {
            NativeException e = assertThrows(NativeException.class,
                    () -> Fd.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC));
            assertEquals("open /dev/null: EMFILE (Too many open files)", e.getMessage());
            assertTrue(first.get() >= 0);
        }
        assertTrue(Libc.FailNth.disarm(), "the injected failure happened");
        assertEquals(2, Libc.FailNth.counted());
        // Disarmed: the same call goes through.
        try (Fd again = Fd.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC)) {
            assertTrue(again.get() >= 0);
        }
    }

    @Test
    void closeMunmapAndTheRawHotPathAreNotCounted() {
        try (Fd fd = Fd.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC); Arena arena = Arena.ofConfined()) {
            Libc.FailNth.arm(1, Errno.ENOMEM);
            assertEquals(-Errno.ENOTTY, Libc.ioctlRaw(fd.get(), KvmIoctl.KVM_GET_API_VERSION, 0));
            assertEquals(0, Libc.FailNth.counted(), "ioctlRaw is the hot path: not counted");
            // The throwing form counts: it is the one that fails now, with the injected errno, not ENOTTY.
            NativeException e = assertThrows(NativeException.class, () -> fd.ioctl(KvmIoctl.KVM_GET_API_VERSION));
            assertEquals(Errno.ENOMEM, e.errno());
            assertTrue(e.getMessage().startsWith("ioctl KVM_GET_API_VERSION on /dev/null: ENOMEM"), e.getMessage());
            Libc.FailNth.arm(1, Errno.ENOMEM);
            assertThrows(NativeException.class, () -> Mmap.anonymous(arena, 4096, Libc.PROT_READ, Libc.MAP_PRIVATE,
                    "test page"));
            Libc.FailNth.arm(2, Errno.ENOMEM);
            try (Arena second = Arena.ofConfined()) {
                Mmap.anonymous(second, 4096, Libc.PROT_READ, Libc.MAP_PRIVATE, "test page");
            }
        }
        // The mapping's munmap and the descriptor's close above were not counted: the second call never came.
        assertFalse(Libc.FailNth.disarm());
        assertEquals(1, Libc.FailNth.counted());
    }

    @Test
    void armingIsPerThread() throws Exception {
        Libc.FailNth.arm(1, Errno.ENOMEM);
        AtomicReference<Throwable> other = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try (Fd fd = Fd.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC)) {
                fd.get();
            } catch (Throwable e) {
                other.set(e);
            }
        });
        t.start();
        t.join();
        assertEquals(null, other.get(), "another thread's calls are not failed");
        assertThrows(NativeException.class, () -> Fd.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC));
    }

    @Test
    void armingNeedsAPositiveCountAndErrno() {
        assertThrows(IllegalArgumentException.class, () -> Libc.FailNth.arm(0, Errno.ENOMEM));
        assertThrows(IllegalArgumentException.class, () -> Libc.FailNth.arm(1, 0));
    }
}
