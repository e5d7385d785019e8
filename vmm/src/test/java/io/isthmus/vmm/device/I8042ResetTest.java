package io.isthmus.vmm.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The i8042's reset line, driven through the port bus as a guest's {@code outb} is. Regression test for the bug
 * where the device was inserted as two one-byte ranges but reset only at offset 4, which the bus never hands it
 * (port 0x64 arrives as offset 0 of its own range): a guest's {@code outb 0xfe, 0x64} did nothing.
 */
class I8042ResetTest {
    private final FakePlatform platform = new FakePlatform();

    I8042ResetTest() {
        platform.plug(new I8042Reset());
    }

    @Test
    void commandFeOnPort64RequestsAReset() {
        assertTrue(platform.pioBus().write(0x64, 1, 0xfe), "port 0x64 is taken by the i8042");
        List<FakePlatform.Request> r = platform.requests();
        assertEquals(1, r.size(), "one reset request: " + r);
        assertEquals("reset", r.get(0).kind());
    }

    @Test
    void otherCommandsAndTheDataPortDoNothing() {
        for (int v : new int[] {0x00, 0x20, 0x60, 0xaa, 0xad, 0xd1, 0xff}) {
            platform.pioBus().write(0x64, 1, v);
        }
        for (int v : new int[] {0xfe, 0x00, 0xff}) {
            assertTrue(platform.pioBus().write(0x60, 1, v));
        }
        assertEquals(List.of(), platform.requests());
    }

    @Test
    void portsReadZeroAndNeighboursAreFree() {
        assertEquals(0, platform.pioBus().read(0x60, 1));
        assertEquals(0, platform.pioBus().read(0x64, 1), "status: output buffer empty, input buffer ready");
        for (int port = 0x61; port <= 0x63; port++) {
            assertEquals(null, platform.pioBus().deviceAt(port), "port 0x" + Integer.toHexString(port));
        }
        assertEquals(null, platform.pioBus().deviceAt(0x65));
        assertEquals(List.of(), platform.requests());
    }

    @Test
    void everyResetWriteIsARequest() {
        platform.pioBus().write(0x64, 1, 0xfe);
        platform.pioBus().write(0x64, 1, 0xfe);
        assertEquals(2, platform.requests().size());
    }
}
