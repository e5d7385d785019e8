package io.isthmus.vfio.pci;

/**
 * One capability found in a function's config space: standard ones (linked from offset 0x34, 8-bit ids) and
 * PCIe extended ones (linked from 0x100, 16-bit ids). Each record holds the fields Isthmus and {@code lspci}
 * care about; {@link Other} covers the rest by id and name.
 *
 * <p>Immutable values; thread-safe.
 */
public sealed interface PciCapability {
    /** The capability's offset in config space. */
    int offset();

    /** The capability id (8-bit standard or 16-bit extended). */
    int id();

    /** Whether this is a PCIe extended capability (offset ≥ 0x100). */
    boolean extended();

    /** The name lspci prints for it, e.g. {@code MSI-X}, {@code Advanced Error Reporting}. */
    default String name() {
        return extended() ? CapabilityNames.extended(id()) : CapabilityNames.standard(id());
    }

    /** Power management (id 0x01). */
    record PowerManagement(int offset, int version, int pmcsr) implements PciCapability {
        public int id() { return 0x01; }
        public boolean extended() { return false; }
        /** The current power state, 0..3 (D0..D3hot). */
        public int powerState() { return pmcsr & 3; }
    }

    /** MSI (id 0x05). {@code vectorsCapable}/{@code vectorsEnabled} are counts (1, 2, 4, … 32). */
    record Msi(int offset, boolean enabled, int vectorsCapable, int vectorsEnabled, boolean is64bit,
            boolean maskable) implements PciCapability {
        public int id() { return 0x05; }
        public boolean extended() { return false; }
    }

    /** MSI-X (id 0x11): table size and where table and PBA live (BAR index and offset). */
    record MsiX(int offset, boolean enabled, boolean masked, int tableSize, int tableBar, long tableOffset,
            int pbaBar, long pbaOffset) implements PciCapability {
        public int id() { return 0x11; }
        public boolean extended() { return false; }
    }

    /**
     * PCI Express (id 0x10): version, device/port type, and link capability and status (speed in GT/s
     * encoding 1=2.5, 2=5, 3=8, 4=16, 5=32, 6=64; width in lanes). Link fields are 0 when the type has none.
     */
    record PciExpress(int offset, int version, int type, boolean slot, int interruptMessage, int linkCapSpeed,
            int linkCapWidth, int linkStaSpeed, int linkStaWidth, int port) implements PciCapability {
        public int id() { return 0x10; }
        public boolean extended() { return false; }

        /** lspci's words for {@link #type()}. */
        public String typeName() {
            return switch (type) {
                case 0 -> "Endpoint";
                case 1 -> "Legacy Endpoint";
                case 4 -> "Root Port";
                case 5 -> "Upstream Port";
                case 6 -> "Downstream Port";
                case 7 -> "PCI-Express to PCI/PCI-X Bridge";
                case 8 -> "PCI/PCI-X to PCI-Express Bridge";
                case 9 -> "Root Complex Integrated Endpoint";
                case 10 -> "Root Complex Event Collector";
                default -> "Unknown type " + type;
            };
        }

        /** Whether this type of function has a link (root-complex integrated ones do not). */
        public boolean hasLink() {
            return type != 9 && type != 10;
        }
    }

    /** Vendor-specific (id 0x09) with its length byte. */
    record VendorSpecific(int offset, int length) implements PciCapability {
        public int id() { return 0x09; }
        public boolean extended() { return false; }
    }

    /** Advanced Error Reporting (extended 0x0001): uncorrectable/correctable status. */
    record Aer(int offset, int version, int uncorrectableStatus, int correctableStatus) implements PciCapability {
        public int id() { return 0x0001; }
        public boolean extended() { return true; }
    }

    /** Device serial number (extended 0x0003). */
    record SerialNumber(int offset, int version, long serial) implements PciCapability {
        public int id() { return 0x0003; }
        public boolean extended() { return true; }
    }

    /** Any other capability, by id (and version for extended ones). */
    record Other(int offset, int id, boolean extended, int version) implements PciCapability {}
}
