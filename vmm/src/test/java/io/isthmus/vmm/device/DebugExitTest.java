package io.isthmus.vmm.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.List;
import org.junit.jupiter.api.Test;

/** isa-debug-exit: status {@code (value << 1) | 1} of the written width, as QEMU's {@code debug_exit_write}. */
class DebugExitTest {
    private final FakePlatform platform = new FakePlatform();

    DebugExitTest() {
        platform.plug(new DebugExit(0xf4, 4));
    }

    private int only() {
        List<FakePlatform.Request> r = platform.requests();
        assertEquals(1, r.size(), r.toString());
        assertEquals("exit", r.get(0).kind());
        return r.get(0).status();
    }

    @Test
    void byteWriteExitsWithTwiceThePlusOne() {
        platform.pioBus().write(0xf4, 1, 0x10);
        assertEquals(0x21, only());
    }

    @Test
    void valueIsMaskedToTheAccessWidth() {
        platform.pioBus().write(0xf4, 1, 0x1ff);
        assertEquals(0x1ff, only());
    }

    @Test
    void wordWriteAtAnotherOffsetOfTheRange() {
        platform.pioBus().write(0xf6, 2, 0x1234);
        assertEquals(0x2469, only());
    }

    @Test
    void zeroExitsWithOne() {
        platform.pioBus().write(0xf7, 1, 0);
        assertEquals(1, only());
    }

    @Test
    void readsAreZeroAndDoNotExit() {
        assertEquals(0, platform.pioBus().read(0xf4, 4));
        assertEquals(List.of(), platform.requests());
    }

    @Test
    void occupiesExactlyItsRange() {
        assertEquals(null, platform.pioBus().deviceAt(0xf3));
        assertEquals(null, platform.pioBus().deviceAt(0xf8));
        assertFalse(platform.pioBus().write(0xf8, 1, 1));
        assertEquals(List.of(), platform.requests());
    }
}
