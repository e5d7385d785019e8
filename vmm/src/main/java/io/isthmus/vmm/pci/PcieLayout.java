package io.isthmus.vmm.pci;

import java.util.ArrayList;
import java.util.List;

/**
 * Where QEMU's microvm puts its PCI Express host bridge ({@code -M microvm,pcie=on}, {@code hw/i386/microvm.c}):
 * ECAM at 0xe0000000 (256 MiB, buses 0-255), the 32-bit MMIO window at 0xc0000000 (512 MiB, between RAM's 3 GiB
 * and ECAM), INTA-INTD on GSIs 16-19, and the 64-bit MMIO window in the top quarter of the guest-physical address
 * space: {@code 2^physBits / 4} bytes at {@code 3/4 * 2^physBits}.
 *
 * <p>How the 64-bit window is sized: as QEMU does, from the physical address width the guest's CPUs report (CPUID
 * 0x80000008 EAX[7:0]). QEMU's microvm forces {@code host-phys-bits} on, and this VMM passes KVM's supported CPUID,
 * which reports the host's width, so both give the guest the same width and the same window. The window therefore
 * ends exactly where the guest's (and KVM's) addressable space ends, and holds a BAR up to a quarter of it: 40 bits
 * (the lab's CPU, QEMU's TCG default) give 256 GiB at 768 GiB, enough for one 128 GiB GPU BAR; 46 bits (many Intel
 * servers) 16 TiB at 48 TiB; 48 bits 64 TiB at 192 TiB; 52 bits 1 PiB. Below 39 bits a 128 GiB BAR does not fit.
 * RAM above 4 GiB must end below the window. The DSDT describes it ({@code io.isthmus.vmm.acpi.PcieHostAml#of}).
 *
 * <p>Immutable; thread-safe.
 *
 * @param physBits the guest-physical address width the window was sized from
 */
public record PcieLayout(long ecamBase, long ecamSize, long mmio32Base, long mmio32Size, long mmio64Base,
                         long mmio64Size, int irqBase, int physBits) {
    public static final long ECAM_BASE = 0xe000_0000L, ECAM_SIZE = 0x1000_0000L;
    public static final long MMIO32_BASE = 0xc000_0000L, MMIO32_SIZE = 0x2000_0000L;
    /** GSI of INTA on slot 0: microvm's with its second IOAPIC (virtio-mmio has 24-47). */
    public static final int IRQ_BASE = 16;

    /** microvm's layout for a guest with {@code physBits}-bit physical addresses. */
    public static PcieLayout microvm(int physBits) {
        if (physBits < 32 || physBits > 52) {
            throw new IllegalArgumentException("a guest-physical address width of " + physBits + " bits: x86 has 32"
                    + " to 52");
        }
        long space = 1L << physBits;
        // QEMU: "use topmost 25% of the address space available", when that space exceeds 16 MiB (always here).
        return new PcieLayout(ECAM_BASE, ECAM_SIZE, MMIO32_BASE, MMIO32_SIZE, space - space / 4, space / 4, IRQ_BASE,
                physBits);
    }

    /**
     * Checks that RAM ending at guest-physical {@code ramEnd} (exclusive) stays below the 64-bit window.
     *
     * @throws IllegalArgumentException naming the window when it does not
     */
    public void checkRam(long ramEnd) {
        if (mmio64Size > 0 && Long.compareUnsigned(ramEnd, mmio64Base) > 0) {
            throw new IllegalArgumentException(String.format("pcie=on: guest RAM up to 0x%x reaches the 64-bit PCI"
                    + " window at 0x%x (the top quarter of the guest's %d-bit physical address space); use less"
                    + " memory", ramEnd, mmio64Base, physBits));
        }
    }

    /** The windows BARs decode in: 32-bit, then 64-bit. */
    public List<PciBus.Window> windows() {
        List<PciBus.Window> w = new ArrayList<>(List.of(new PciBus.Window("pcie-mmio32", mmio32Base, mmio32Size)));
        if (mmio64Size > 0) {
            w.add(new PciBus.Window("pcie-mmio64", mmio64Base, mmio64Size));
        }
        return w;
    }
}
