package io.isthmus.vmm.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.kvm.bus.BusDevice;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Configuration space semantics on their own: BAR kinds and decoding rules, capabilities, a passthrough backing. */
class PciConfigSpaceTest {
    static final BusDevice NOTHING = new BusDevice() {
        @Override
        public long read(long offset, int size) {
            return 0;
        }

        @Override
        public void write(long offset, int size, long value) {
        }
    };

    static PciConfigSpace space() {
        return new PciConfigSpace(Pci.CONFIG_SIZE, 0x1234, 0x5678, 1, 0x020000, 0x1af4, 0x1100);
    }

    @Test
    void everyBarKindSizesAsHardwareDoes() {
        PciConfigSpace c = space();
        c.addBar(PciBar.io(0, 32, NOTHING));
        c.addBar(PciBar.mapped(1, 1 << 20, PciBar.Kind.MEMORY32, true, new RecordingMapper()));
        c.addBar(PciBar.memory64(2, 1L << 40, false, NOTHING));
        c.addBar(PciBar.memory32(5, 16, NOTHING));
        assertEquals(List.of(0, 1, 2, 5), c.bars().stream().map(PciBar::index).toList());
        assertEquals(0x1, c.read(0x10, 4), "I/O");
        assertEquals(0x8, c.read(0x14, 4), "32-bit prefetchable");
        assertEquals(0x4, c.read(0x18, 4), "64-bit");
        for (int bar = 0x10; bar < 0x28; bar += 4) {
            c.write(bar, 4, -1);
        }
        assertEquals(0xffff_ffe1, c.read(0x10, 4));
        assertEquals(0xfff0_0008, c.read(0x14, 4));
        assertEquals(0x0000_0004, c.read(0x18, 4));
        assertEquals(0xffff_ff00, c.read(0x1c, 4), "1 TiB");
        assertEquals(0, c.read(0x20, 4));
        assertEquals(0xffff_fff0, c.read(0x24, 4));
        assertThrows(IllegalArgumentException.class, () -> c.addBar(PciBar.memory32(3, 4096, NOTHING)),
                "register 3 is BAR2's upper half");
        assertThrows(IllegalArgumentException.class, () -> PciBar.memory32(0, 3 << 12, NOTHING));
        assertThrows(IllegalArgumentException.class, () -> PciBar.memory64(5, 4096, false, NOTHING));
        assertThrows(IllegalArgumentException.class, () -> PciBar.memory32(0, 8, NOTHING));
    }

    @Test
    void aBarDecodesByQemusRules() {
        PciConfigSpace c = space();
        c.addBar(PciBar.memory32(0, 4096, NOTHING));
        c.addBar(PciBar.memory64(2, 1L << 30, true, NOTHING));
        c.addBar(PciBar.io(4, 16, NOTHING));
        c.write(0x10, 4, 0xc000_0000);
        c.write(0x18, 4, 0);
        c.write(0x1c, 4, 0x10);
        c.write(0x20, 4, 0x1000);
        assertEquals(-1, c.barAddress(0), "memory decoding off");
        c.write(0x04, 2, Pci.COMMAND_MEMORY | Pci.COMMAND_IO);
        assertEquals(0xc000_0000L, c.barAddress(0));
        assertEquals(0x10_0000_0000L, c.barAddress(2));
        assertEquals(-1, c.barAddress(4), "no I/O window: I/O BARs never decode");
        c.write(0x10, 4, 0);
        assertEquals(-1, c.barAddress(0), "address 0 is unassigned");
        c.write(0x10, 4, 0xffff_f000);
        assertEquals(-1, c.barAddress(0), "a 32-bit BAR must end below 4 GiB");
        c.write(0x18, 4, 0xc000_0000);
        c.write(0x1c, 4, -1);
        assertEquals(-1, c.barAddress(2), "the last page of the 64-bit space: it would end at 2^64");
        c.write(0x1c, 4, 0);
        assertEquals(0xc000_0000L, c.barAddress(2), "a 64-bit BAR may sit below 4 GiB");
        c.write(0x10, 4, 0x1234_5678);
        assertEquals(0x1234_5000L, c.barAddress(0), "the bits below the size read as 0");
    }

    @Test
    void capabilitiesChainFrom0x40AndAreReadOnlyUntilMadeWritable() {
        PciConfigSpace c = space();
        assertEquals(0, c.read(0x06, 2) & Pci.STATUS_CAP_LIST);
        int a = c.addCapability(0x09, 6);
        int b = c.addCapability(0x0a, 8);
        assertEquals(0x40, a);
        assertEquals(0x48, b, "4-byte aligned after the first");
        assertEquals(Pci.STATUS_CAP_LIST, c.read(0x06, 2) & Pci.STATUS_CAP_LIST);
        assertEquals(0x40, c.read(0x34, 1));
        assertEquals(0x48_09, c.read(0x40, 2));
        assertEquals(0x00_0a, c.read(0x48, 2));
        c.write(0x42, 4, -1);
        assertEquals(0, c.read(0x42, 4), "read-only by default");
        c.setWritable(0x44, 2, 0x00ff);
        c.write(0x44, 2, 0xffff);
        assertEquals(0x00ff, c.read(0x44, 2));
        c.write(0x50, 4, -1);
        assertEquals(-1, c.read(0x50, 4), "outside every capability, QEMU's device-specific space is writable");
        assertThrows(IllegalArgumentException.class, () -> c.addCapability(0x11, 0xc0));
    }

    @Test
    void statusErrorBitsClearOnWritingOne() {
        PciConfigSpace c = space();
        c.set(Pci.STATUS, 2, 0xf900 | Pci.STATUS_CAP_LIST);
        c.write(Pci.STATUS, 2, 0x8100 | Pci.STATUS_CAP_LIST);
        assertEquals(0x7800 | Pci.STATUS_CAP_LIST, c.read(Pci.STATUS, 2), "bits 15 and 8 cleared, the rest kept");
    }

    @Test
    void aPassthroughBackingServesWhatIsNotEmulated() {
        int[] device = new int[64];
        device[0] = 0x1db6_10de; // an NVIDIA function's ids
        device[1] = 0x0010_0000;
        device[4] = 0xdead_0000; // its real BAR0: never seen by the guest
        List<String> writes = new ArrayList<>();
        PciConfigSpace c = space();
        c.addBar(PciBar.mapped(0, 1 << 24, PciBar.Kind.MEMORY32, false, new RecordingMapper()));
        c.setBacking(new PciConfigSpace.Backing() {
            @Override
            public int read(int offset, int size) {
                int v = device[offset >> 2] >>> (8 * (offset & 3));
                return size == 4 ? v : v & ((1 << (8 * size)) - 1);
            }

            @Override
            public void write(int offset, int size, int value) {
                writes.add(String.format("%x/%d=%x", offset, size, value));
            }
        });
        c.emulate(Pci.COMMAND, 2, Pci.COMMAND_INTX_DISABLE);
        assertEquals(0x1db6_10de, c.read(0x00, 4), "ids from the device");
        assertEquals(0, c.read(0x10, 4), "BAR0 emulated: the guest's address, not the host's");
        c.write(0x10, 4, -1);
        assertEquals(0xff00_0000, c.read(0x10, 4), "sized here");
        assertEquals(List.of(), writes, "BAR writes stay here");
        c.write(0x04, 2, Pci.COMMAND_MEMORY | Pci.COMMAND_INTX_DISABLE);
        assertEquals(List.of("4/2=402"), writes, "the command register goes to the device too");
        assertEquals(0x0010_0400, c.read(0x04, 4), "INTx-disable emulated, the rest from the device");
        c.write(0x10, 4, 0xfe00_0000);
        assertEquals(0xfe00_0000L, c.barAddress(0), "decodes where the guest put it");
    }

    @Test
    void writesThatCanMoveABarTellTheBusAfterReleasingTheLock() {
        PciConfigSpace c = space();
        c.addBar(PciBar.memory32(0, 4096, NOTHING));
        List<String> calls = new ArrayList<>();
        c.connect(() -> {
            assertTrue(!Thread.holdsLock(c), "the bus takes its own lock: never under the function's");
            calls.add("remap");
        }, delta -> { });
        c.write(0x10, 4, 0x1000);
        c.write(0x04, 1, Pci.COMMAND_MEMORY);
        c.write(0x3c, 1, 5);
        c.write(0x0c, 1, 16);
        assertEquals(List.of("remap", "remap"), calls, "BAR and command writes only");
    }

    static final class RecordingMapper implements BarMapper {
        final List<String> calls = new ArrayList<>();

        @Override
        public void map(long address) {
            calls.add("map " + Long.toHexString(address));
        }

        @Override
        public void unmap() {
            calls.add("unmap");
        }
    }
}
