package io.isthmus.vmm.machine;

import io.isthmus.vmm.acpi.AcpiTables;
import io.isthmus.vmm.acpi.TableLoader;
import io.isthmus.vmm.boot.FwCfgKernel;
import io.isthmus.vmm.boot.MemoryMap;
import io.isthmus.vmm.device.FwCfg;
import io.isthmus.vmm.device.FwCfgItems;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * What QEMU 7.2's microvm puts in fw_cfg with KVM ({@code microvm_memory_init}, {@code fw_cfg_common_realize},
 * {@code acpi_setup_microvm}, the kernel loaders and {@code fw_cfg_machine_reset}), for a machine of this VMM:
 *
 * <ul>
 * <li>signature "QEMU", id 3 (traditional and DMA interfaces), a zero UUID, nographic (1 under {@code -nographic}),
 *     boot_menu 0, nb_cpus and max_cpus, ram_size, irq0_override 1;</li>
 * <li>the loader's kernel, initrd, command-line and setup items ({@link FwCfgKernel});</li>
 * <li>files: {@code bios-geometry} (empty), {@code bootorder} (the option ROM that boots the kernel, when there
 *     is one), the ACPI tables with their linker/loader script ({@link TableLoader}), {@code etc/boot-fail-wait}
 *     (-1: no reboot timeout) and {@code etc/e820} (QEMU's own map: KVM's identity-map pages, then RAM below and
 *     above 4 GiB, 20-byte entries).</li>
 * </ul>
 *
 * <p>Left out, and documented as this VMM's deviations: {@code etc/fdt} (QEMU's 1 MiB device tree for microvm) and
 * {@code genroms/*.bin} (QEMU's option ROMs, GPL binaries of another project; this VMM loads kernels itself), so the
 * files after {@code etc/acpi/tables} have lower selectors than under QEMU and the directory counts two fewer.
 *
 * <p>Stateless; thread-safe.
 */
final class MicrovmFwCfg {
    /** The {@code bootorder} entry of an option ROM, as QEMU's {@code rom_add_option} names it. */
    static final String ROM_PATH = "/rom@genroms/";

    private MicrovmFwCfg() {}

    /**
     * The items for a machine with {@code cpus} vCPUs, the RAM of {@code map}, KVM's identity-map pages at
     * {@code identityMap}, the tables {@code acpi} and the kernel items {@code kernel}.
     */
    static FwCfgItems items(int cpus, boolean nographic, MemoryMap map, long identityMap, AcpiTables acpi,
                            FwCfgKernel kernel) {
        FwCfgItems.Builder b = FwCfgItems.builder()
                .item(FwCfgItems.SIGNATURE, "QEMU".getBytes(StandardCharsets.US_ASCII))
                .i32(FwCfgItems.ID, FwCfg.ID_TRADITIONAL | FwCfg.ID_DMA)
                .item(FwCfgItems.UUID, new byte[16])
                .i16(FwCfgItems.NOGRAPHIC, nographic ? 1 : 0)
                .i16(FwCfgItems.BOOT_MENU, 0)
                .file("etc/boot-fail-wait", le32(-1))
                .i16(FwCfgItems.NB_CPUS, cpus)
                .i16(FwCfgItems.MAX_CPUS, cpus)
                .i64(FwCfgItems.RAM_SIZE, map.ramSize())
                .i32(FwCfgItems.IRQ0_OVERRIDE, 1)
                .file("etc/e820", e820(map, identityMap));
        kernelItems(b, kernel);
        String rom = kernel.optionRom();
        b.file("bootorder", rom == null ? new byte[0]
                : (ROM_PATH + rom + "\0").getBytes(StandardCharsets.US_ASCII));
        b.file("bios-geometry", new byte[0]);
        TableLoader files = TableLoader.of(acpi);
        b.file(TableLoader.TABLES_FILE, files.tables());
        b.file(TableLoader.LOADER_FILE, files.loader());
        b.file(TableLoader.RSDP_FILE, files.rsdp());
        return b.build();
    }

    /** The kernel items QEMU's loader fills; those it leaves unset read as zeros whether present or not. */
    private static void kernelItems(FwCfgItems.Builder b, FwCfgKernel k) {
        if (k.kernel() != FwCfgKernel.Blob.NONE) {
            b.i32(FwCfgItems.KERNEL_ADDR, k.kernel().addr()).i32(FwCfgItems.KERNEL_SIZE, k.kernel().size())
                    .item(FwCfgItems.KERNEL_DATA, k.kernel().data());
        }
        if (k.initrd() != FwCfgKernel.Blob.NONE) {
            b.i32(FwCfgItems.INITRD_ADDR, k.initrd().addr()).i32(FwCfgItems.INITRD_SIZE, k.initrd().size())
                    .item(FwCfgItems.INITRD_DATA, k.initrd().data());
        }
        if (k.cmdline() != FwCfgKernel.Blob.NONE) {
            b.i32(FwCfgItems.CMDLINE_ADDR, k.cmdline().addr()).i32(FwCfgItems.CMDLINE_SIZE, k.cmdline().size())
                    .item(FwCfgItems.CMDLINE_DATA, k.cmdline().data());
        }
        if (k.setup() != FwCfgKernel.Blob.NONE) {
            b.i32(FwCfgItems.SETUP_ADDR, k.setup().addr()).i32(FwCfgItems.SETUP_SIZE, k.setup().size())
                    .item(FwCfgItems.SETUP_DATA, k.setup().data());
        }
        if (k.entry() != 0) {
            b.i32(FwCfgItems.KERNEL_ENTRY, k.entry());
        }
    }

    /**
     * QEMU's {@code etc/e820}: the entries QEMU itself adds, in its order (KVM's identity-map pages when the
     * accelerator starts, then microvm's RAM), 8-byte address, 8-byte length, 4-byte type, little-endian.
     */
    static byte[] e820(MemoryMap map, long identityMap) {
        int n = map.highRam() > 0 ? 3 : 2;
        ByteBuffer b = ByteBuffer.allocate(20 * n).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(identityMap).putLong(0x4000).putInt(MemoryMap.E820_RESERVED);
        b.putLong(0).putLong(map.lowRam()).putInt(MemoryMap.E820_RAM);
        if (map.highRam() > 0) {
            b.putLong(MemoryMap.HIGH_RAM_BASE).putLong(map.highRam()).putInt(MemoryMap.E820_RAM);
        }
        return b.array();
    }

    private static byte[] le32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }
}
