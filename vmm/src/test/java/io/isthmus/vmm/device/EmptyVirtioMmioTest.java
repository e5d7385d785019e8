package io.isthmus.vmm.device;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** An empty microvm virtio-mmio slot answers the probe as QEMU's: "virt", version 1, device ID 0, vendor "QEMU". */
class EmptyVirtioMmioTest {
    private final FakePlatform platform = new FakePlatform();

    @Test
    void answersTheProbeWithDeviceIdZero() {
        platform.plug(new EmptyVirtioMmio(3));
        long base = 0xfeb00600L;
        assertEquals(0x74726976L, platform.mmioBus().read(base, 4), "magic 'virt'");
        assertEquals(1, platform.mmioBus().read(base + 4, 4), "legacy version");
        assertEquals(0, platform.mmioBus().read(base + 8, 4), "device ID 0: nothing plugged");
        assertEquals(0x554d4551L, platform.mmioBus().read(base + 0xc, 4), "vendor 'QEMU'");
        assertEquals(0, platform.mmioBus().read(base + 0x10, 4), "no features");
        assertEquals(0, platform.mmioBus().read(base + 0x70, 4), "status");
    }

    @Test
    void writesChangeNothing() {
        platform.plug(new EmptyVirtioMmio(0));
        long base = EmptyVirtioMmio.BASE;
        platform.mmioBus().write(base + 0x70, 4, 0xf); // status: DRIVER_OK and all
        platform.mmioBus().write(base, 4, 0);
        assertEquals(0, platform.mmioBus().read(base + 0x70, 4));
        assertEquals(0x74726976L, platform.mmioBus().read(base, 4));
    }

    @Test
    void eachSlotAtItsOwnStride() {
        for (int s = 0; s < EmptyVirtioMmio.COUNT; s++) {
            platform.plug(new EmptyVirtioMmio(s));
        }
        assertEquals(EmptyVirtioMmio.COUNT, platform.mmioBus().describe().size());
        assertEquals("[0xfeb02e00-0xfeb03000) virtio-mmio.23 (empty)", platform.mmioBus().describe().get(23));
        assertEquals(null, platform.mmioBus().deviceAt(0xfeb03000L));
    }
}
