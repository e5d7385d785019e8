package io.isthmus.vfio.pci;

/** Names of PCI base classes and common subclasses, as lspci prints them (pci.ids). Stateless. */
public final class PciClassNames {
    private PciClassNames() {}

    /** The name for a 24-bit class code (prog-if ignored). */
    public static String of(int classCode) {
        int cls = classCode >>> 8;
        return switch (cls) {
            case 0x0000 -> "Non-VGA unclassified device";
            case 0x0100 -> "SCSI storage controller";
            case 0x0101 -> "IDE interface";
            case 0x0104 -> "RAID bus controller";
            case 0x0106 -> "SATA controller";
            case 0x0108 -> "Non-Volatile memory controller";
            case 0x0180 -> "Mass storage controller";
            case 0x0200 -> "Ethernet controller";
            case 0x0280 -> "Network controller";
            case 0x0300 -> "VGA compatible controller";
            case 0x0302 -> "3D controller";
            case 0x0380 -> "Display controller";
            case 0x0403 -> "Audio device";
            case 0x0500 -> "RAM memory";
            case 0x0600 -> "Host bridge";
            case 0x0601 -> "ISA bridge";
            case 0x0604 -> "PCI bridge";
            case 0x0680 -> "Bridge";
            case 0x0700 -> "Serial controller";
            case 0x0880 -> "System peripheral";
            case 0x0c03 -> "USB controller";
            case 0x0c05 -> "SMBus";
            case 0x1200 -> "Processing accelerators";
            default -> switch (cls >>> 8) {
                case 0x00 -> "Unclassified device";
                case 0x01 -> "Mass storage controller";
                case 0x02 -> "Network controller";
                case 0x03 -> "Display controller";
                case 0x04 -> "Multimedia controller";
                case 0x05 -> "Memory controller";
                case 0x06 -> "Bridge";
                case 0x07 -> "Communication controller";
                case 0x08 -> "Generic system peripheral";
                case 0x0c -> "Serial bus controller";
                case 0x12 -> "Processing accelerators";
                case 0xff -> "Unassigned class";
                default -> String.format("Class %04x", cls);
            };
        };
    }
}
