package io.isthmus.vmm.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.bus.BusOverlapException;
import io.isthmus.vmm.acpi.AcpiTables;
import io.isthmus.vmm.boot.MemoryMap;
import io.isthmus.vmm.device.Device;
import io.isthmus.vmm.device.EmptyVirtioMmio;
import io.isthmus.vmm.device.MachineControl;
import io.isthmus.vmm.device.Platform;
import io.isthmus.vmm.device.Unassigned;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The device manager without KVM: what devices occupy, overlaps refused, MMIO allocation, virtio slots from 23
 * down, {@link DeviceManager#seal} filling gaps around RAM and the kernel-owned ranges, reset and close order.
 * Its {@link Interrupts} get no VM: nothing here reaches the kernel (a call into it would throw).
 */
class DeviceManagerTest {
    private static final long GIB = 1L << 30;
    private static final long[][] KERNEL_OWNED = {{AcpiTables.LAPIC_BASE, 0x100000}, {MachineBuilder.IDENTITY_MAP,
            0x4000}};
    private static final MachineControl NO_CONTROL = new MachineControl() {
        @Override
        public void exit(int status, String why) {
            throw new AssertionError("exit " + status + ": " + why);
        }

        @Override
        public void reset(String why) {
            throw new AssertionError("reset: " + why);
        }
    };

    private final Interrupts interrupts = new Interrupts(null, new GsiRoutes(null, Interrupts.IOAPIC_GSIS), () -> { },
            null);
    private final DeviceManager dm = new DeviceManager(interrupts, null, NO_CONTROL);
    private final List<String> reports = new CopyOnWriteArrayList<>();
    private final Unassigned.Reports unassigned = new Unassigned.Reports(reports::add);

    @AfterEach
    void close() {
        dm.closeAll();
        interrupts.close();
    }

    /** A device that registers one port or MMIO range and records its resets and close. */
    private record Ranged(String name, boolean pio, long base, long length, List<String> log) implements Device,
            BusDevice {
        @Override
        public void plug(Platform p) {
            if (pio) {
                p.pio(base, length, this, name);
            } else {
                p.mmio(base, length, this, name);
            }
        }

        @Override
        public void reset() {
            log.add("reset " + name);
        }

        @Override
        public void close() {
            log.add("close " + name);
        }

        @Override
        public long read(long offset, int size) {
            return 0x5a;
        }

        @Override
        public void write(long offset, int size, long value) {
        }
    }

    /** A virtio device as {@link VirtioSlot} plugs one: it takes the next slot and maps its transport there. */
    private final class Virtio implements Device, BusDevice {
        int slot = -1;

        @Override
        public void plug(Platform p) {
            slot = dm.takeVirtioSlot();
            p.mmio(DeviceManager.virtioBase(slot), EmptyVirtioMmio.STRIDE, this, "virtio-mmio." + slot);
        }

        @Override
        public long read(long offset, int size) {
            return 0xabcd;
        }

        @Override
        public void write(long offset, int size, long value) {
        }
    }

    @Test
    void overlappingPortsAreRefusedNamingBothDevices() {
        List<String> log = new ArrayList<>();
        dm.add(new Ranged("serial", true, 0x3f8, 8, log));
        BusOverlapException e = assertThrows(BusOverlapException.class,
                () -> dm.add(new Ranged("other", true, 0x3fc, 2, log)));
        assertTrue(e.getMessage().contains("other") && e.getMessage().contains("serial")
                && e.getMessage().contains("0x3f8"), e.getMessage());
        assertEquals(0x5a, dm.pioBus().read(0x3fc, 1), "the first device keeps its range");
        dm.resetAll();
        assertEquals(List.of("reset serial"), log, "a refused device is not kept");
    }

    @Test
    void overlappingMmioIsRefused() {
        List<String> log = new ArrayList<>();
        dm.add(new Ranged("a", false, 0xd000_0000L, 0x1000, log));
        assertThrows(BusOverlapException.class, () -> dm.add(new Ranged("b", false, 0xd000_0ff8L, 0x10, log)));
        dm.add(new Ranged("c", false, 0xd000_1000L, 0x10, log)); // adjacent is fine
    }

    @Test
    void mmioAllocationTakesTheLowestAlignedFreeRange() {
        List<String> log = new ArrayList<>();
        dm.add(new Ranged("fixed", false, 0xd000_0000L, 0x800, log));
        BusDevice d = new Ranged("x", false, 0, 0, log);
        assertEquals(0xd000_1000L, dm.allocateMmio(0x1000, 0x1000, 0xd000_0000L, 0xd001_0000L, d, "a1"));
        assertEquals(0xd000_0800L, dm.allocateMmio(0x100, 0x100, 0xd000_0000L, 0xd001_0000L, d, "a2"));
        assertEquals(0xd000_2000L, dm.allocateMmio(0x1000, 0x1000, 0xd000_0000L, 0xd001_0000L, d, "a3"));
        BusOverlapException e = assertThrows(BusOverlapException.class,
                () -> dm.allocateMmio(0x10000, 0x1000, 0xd000_0000L, 0xd001_0000L, d, "big"));
        assertTrue(e.getMessage().contains("big"), e.getMessage());
    }

    @Test
    void interruptLinesAreCheckedAndReachThePic() {
        assertThrows(IllegalArgumentException.class, () -> dm.isaIrq(16));
        assertThrows(IllegalArgumentException.class, () -> dm.isaIrq(-1));
        assertThrows(IllegalArgumentException.class, () -> dm.gsi(48));
        assertThrows(IllegalArgumentException.class, () -> dm.gsi(-1));
        dm.add(interrupts);
        dm.pioBus().write(0x4d1, 1, 1 << 1); // ELCR: IRQ 9 level-triggered, as ACPI's SCI
        dm.isaIrq(4).set(true);
        dm.isaIrq(9).set(true);
        // OCW3's default read register is IRR.
        assertEquals(1 << 4, dm.pioBus().read(0x20, 1) & 1 << 4, "ISA IRQ 4 in the master's IRR");
        assertEquals(1 << 1, dm.pioBus().read(0xa0, 1) & 1 << 1, "ISA IRQ 9 in the slave's IRR");
        dm.isaIrq(4).set(false);
        dm.isaIrq(9).set(false);
        assertEquals(1 << 4, dm.pioBus().read(0x20, 1) & 1 << 4, "an edge stays latched, as QEMU's i8259");
        assertEquals(0, dm.pioBus().read(0xa0, 1) & 1 << 1, "a level-triggered line's request drops with it");
        dm.gsi(47).set(true); // a masked IOAPIC pin: nothing is delivered, nothing throws
        dm.gsi(47).set(false);
    }

    @Test
    void virtioSlotsAreTakenFrom23DownAndListedInThatOrder() {
        Virtio first = new Virtio(), second = new Virtio();
        dm.add(first);
        dm.add(second);
        assertEquals(23, first.slot);
        assertEquals(22, second.slot);
        assertEquals(List.of(new AcpiTables.VirtioTransport(23, 0xfeb02e00L, 47),
                new AcpiTables.VirtioTransport(22, 0xfeb02c00L, 46)), dm.virtioTransports());
        for (int i = 2; i < DeviceManager.VIRTIO_SLOTS; i++) {
            assertEquals(DeviceManager.VIRTIO_SLOTS - 1 - i, dm.takeVirtioSlot());
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, dm::takeVirtioSlot);
        assertTrue(e.getMessage().contains("24"), e.getMessage());
    }

    @Test
    void sealGivesEmptySlotsQemusEmptyTransport() {
        dm.add(new Virtio());
        dm.seal(MemoryMap.forRam(256L << 20), unassigned, KERNEL_OWNED);
        assertEquals(0xabcd, dm.mmioBus().read(DeviceManager.virtioBase(23), 4), "the taken slot keeps its device");
        for (int s = 0; s < 23; s++) {
            assertInstanceOf(EmptyVirtioMmio.class, dm.mmioBus().deviceAt(DeviceManager.virtioBase(s)), "slot " + s);
            assertEquals(0x74726976L, dm.mmioBus().read(DeviceManager.virtioBase(s), 4));
            assertEquals(0, dm.mmioBus().read(DeviceManager.virtioBase(s) + 8, 4), "device ID 0");
        }
    }

    @Test
    void sealFillsEveryPortGap() {
        List<String> log = new ArrayList<>();
        dm.add(new Ranged("serial", true, 0x3f8, 8, log));
        dm.seal(MemoryMap.forRam(256L << 20), unassigned, KERNEL_OWNED);
        for (int port : new int[] {0, 0x61, 0x3f7, 0x400, 0xcf8, 0xffff}) {
            assertInstanceOf(Unassigned.class, dm.pioBus().deviceAt(port), "port 0x" + Integer.toHexString(port));
        }
        assertEquals(0x5a, dm.pioBus().read(0x3f8, 1));
        assertEquals(0xffff, dm.pioBus().read(0x1234, 2));
        dm.pioBus().write(0x80, 1, 0x12);
        assertEquals(0, dm.pioBus().unhandled(), "every port has a device");
        assertEquals(2, unassigned.total());
        assertEquals(List.of("unassigned PIO read at 0x1234 size 2", "unassigned PIO write at 0x80 size 1 value 0x12"),
                reports);
    }

    @Test
    void sealFillsMmioButNotRamNorTheKernelOwnedRanges() {
        MemoryMap map = MemoryMap.forRam(4 * GIB); // 3 GiB low, 1 GiB high
        dm.add(interrupts);
        dm.add(new Ranged("ged", false, 0xfea00200L, 3, new ArrayList<>()));
        dm.seal(map, unassigned, KERNEL_OWNED);
        var bus = dm.mmioBus();
        assertNull(bus.deviceAt(0), "RAM");
        assertNull(bus.deviceAt(map.lowRam() - 1), "RAM");
        assertInstanceOf(Unassigned.class, bus.deviceAt(map.lowRam()));
        assertInstanceOf(Unassigned.class, bus.deviceAt(0xfea001ffL));
        assertEquals(0x5a, bus.read(0xfea00200L, 1));
        assertInstanceOf(Unassigned.class, bus.deviceAt(0xfea00203L));
        assertInstanceOf(Unassigned.class, bus.deviceAt(AcpiTables.LAPIC_BASE - 1));
        assertNull(bus.deviceAt(AcpiTables.LAPIC_BASE), "the in-kernel LAPIC");
        assertNull(bus.deviceAt(AcpiTables.LAPIC_BASE + 0xfffff));
        assertInstanceOf(Unassigned.class, bus.deviceAt(AcpiTables.LAPIC_BASE + 0x100000));
        assertInstanceOf(Unassigned.class, bus.deviceAt(MachineBuilder.IDENTITY_MAP - 1));
        assertNull(bus.deviceAt(MachineBuilder.IDENTITY_MAP), "KVM's identity map");
        assertNull(bus.deviceAt(MachineBuilder.TSS), "KVM's TSS");
        assertInstanceOf(Unassigned.class, bus.deviceAt(0xff00_0000L));
        assertInstanceOf(Unassigned.class, bus.deviceAt(MemoryMap.HIGH_RAM_BASE - 1));
        assertNull(bus.deviceAt(MemoryMap.HIGH_RAM_BASE), "high RAM");
        assertNull(bus.deviceAt(MemoryMap.HIGH_RAM_BASE + map.highRam() - 1), "high RAM");
        assertInstanceOf(Unassigned.class, bus.deviceAt(MemoryMap.HIGH_RAM_BASE + map.highRam()));
        assertInstanceOf(Unassigned.class, bus.deviceAt((1L << 52) - 1));
        assertNull(bus.deviceAt(1L << 52), "beyond the guest's physical address width");
        assertEquals(0, bus.read(0xd000_0000L, 4), "unassigned MMIO reads 0");
        assertEquals(1, unassigned.total());
    }

    @Test
    void nothingIsAddedAfterSeal() {
        dm.seal(MemoryMap.forRam(256L << 20), unassigned, KERNEL_OWNED);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> dm.add(new Ranged("late", true, 0x3f8, 8, new ArrayList<>())));
        assertTrue(e.getMessage().contains("before it starts"), e.getMessage());
    }

    @Test
    void resetInOrderAddedCloseInReverse() {
        List<String> log = new ArrayList<>();
        dm.add(new Ranged("a", true, 0x100, 1, log));
        dm.add(new Ranged("b", true, 0x101, 1, log));
        dm.add(new Ranged("c", false, 0xd000_0000L, 1, log));
        dm.resetAll();
        dm.resetAll();
        dm.closeAll();
        assertEquals(List.of("reset a", "reset b", "reset c", "reset a", "reset b", "reset c",
                "close c", "close b", "close a"), log);
        log.clear();
    }
}
