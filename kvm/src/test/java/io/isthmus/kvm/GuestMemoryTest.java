package io.isthmus.kvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.BitSet;

import org.junit.jupiter.api.Test;

import io.isthmus.kvm.memory.GuestAddress;
import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.kvm.memory.GuestMemoryException;

class GuestMemoryTest {

    @Test
    void accessesOutsideRamThrowAndTouchNothing() {
        try (GuestMemory mem = GuestMemory.builder().region(0, 0x10000).region(0x20000, 0x1000).build()) {
            mem.writeLong(0xfff8, 0x0102030405060708L);
            assertEquals(0x0102030405060708L, mem.readLong(0xfff8));
            assertEquals(0x08, mem.readByte(0xfff8), "little-endian");
            GuestMemoryException e = assertThrows(GuestMemoryException.class, () -> mem.readLong(0xfffc));
            assertEquals(0xfffc, e.address());
            assertTrue(e.getMessage().contains("[0x0-0x10000), [0x20000-0x21000)"), e.getMessage());
            assertThrows(GuestMemoryException.class, () -> mem.writeInt(0x10000, 1));
            assertThrows(GuestMemoryException.class, () -> mem.readByte(-1L));
            assertThrows(GuestMemoryException.class, () -> mem.write(0xffff, new byte[2]), "gap after the region");
            assertEquals(0x01, mem.readByte(0xffff), "a refused bulk write writes nothing");
            assertThrows(GuestMemoryException.class, () -> mem.slice(0x20800, 0x1000));
            assertThrows(IllegalArgumentException.class, () -> mem.read(0, 3));
        }
    }

    @Test
    void bulkAccessSpansContiguousRegions() {
        try (GuestMemory mem = GuestMemory.builder().region(0x1000, 0x1000).memfd(true).region(0x2000, 0x1000)
                .build()) {
            byte[] data = new byte[0x100];
            for (int i = 0; i < data.length; i++) {
                data[i] = (byte) i;
            }
            mem.write(0x1f80, data);
            assertArrayEquals(data, mem.readBytes(0x1f80, data.length));
            assertTrue(mem.isRam(0x1000, 0x2000));
            assertFalse(mem.isRam(0x1000, 0x2001));
            assertNotNull(mem.regions().get(1).backingFd(), "second region is memfd-backed");
            assertEquals(0x2000, mem.totalSize());
        }
    }

    @Test
    void badLayoutsAreRefusedBeforeMapping() {
        assertThrows(IllegalArgumentException.class, () -> GuestMemory.builder().region(0x800, 0x1000).build());
        assertThrows(IllegalArgumentException.class, () -> GuestMemory.builder().region(0, 0x1800).build());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GuestMemory.builder().region(0, 0x2000).region(0x1000, 0x1000).build());
        assertTrue(e.getMessage().contains("overlap"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> GuestMemory.builder().build());
    }

    @Test
    void closedMemoryCannotBeReached() {
        GuestMemory mem = GuestMemory.anonymous(0x1000);
        var host = mem.regions().get(0).host();
        mem.close();
        mem.close();
        assertThrows(IllegalStateException.class, () -> mem.readInt(0));
        assertThrows(IllegalStateException.class, () -> host.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void hostWritesAreDirtyTracked() {
        try (GuestMemory mem = GuestMemory.builder().hugePages(true).region(0, 4 << 20).build()) {
            mem.enableDirtyTracking();
            mem.writeInt(0x1000, 1);
            mem.write(0x4ffe, new byte[4]); // pages 4 and 5
            BitSet expected = new BitSet();
            expected.set(1);
            expected.set(4);
            expected.set(5);
            assertEquals(expected, mem.takeDirtyPages(mem.regions().get(0)));
            assertEquals(new BitSet(), mem.takeDirtyPages(mem.regions().get(0)));
        }
        // memfd with huge pages: hugetlb when reserved, else an ordinary memfd; either way usable at once.
        try (GuestMemory mem = GuestMemory.builder().memfd(true).hugePages(true).region(0, 2 << 20).build()) {
            mem.writeLong((2 << 20) - 8, 7);
            assertEquals(7, mem.readLong((2 << 20) - 8));
        }
    }

    @Test
    void guestAddressArithmetic() {
        GuestAddress a = GuestAddress.of(0x1000);
        assertEquals(GuestAddress.of(0x1800), a.plus(0x800));
        assertTrue(a.isAligned(0x1000));
        assertThrows(ArithmeticException.class, () -> GuestAddress.of(-1L).plus(1));
        assertTrue(GuestAddress.of(-1L).compareTo(a) > 0, "unsigned order");
        assertEquals("0x1000", a.toString());
    }

    /** KVM keeps the host addresses of its slots: memory a VM maps must not be unmapped under it. */
    @org.junit.jupiter.api.Tag("kvm")
    @Test
    void memoryAVmStillMapsRefusesToCloseUntilTheVmHasClosed() {
        try (Kvm kvm = Kvm.open()) {
            GuestMemory mem = GuestMemory.anonymous(2 << 20);
            Vm vm = kvm.createVm();
            vm.addMemory(mem, 0);
            IllegalStateException e = assertThrows(IllegalStateException.class, mem::close);
            assertTrue(e.getMessage().contains("still mapped by") && e.getMessage().contains("close the VM first"),
                    e.getMessage());
            mem.writeLong(0x1000, 42); // still mapped, still usable
            vm.close();
            mem.close();
            assertTrue(mem.isClosed());
            try (Vm other = kvm.createVm()) {
                assertThrows(IllegalStateException.class, () -> other.addMemory(mem, 0),
                        "closed memory cannot be mapped");
            }
        }
    }
}
