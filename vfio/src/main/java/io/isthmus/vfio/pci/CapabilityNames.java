package io.isthmus.vfio.pci;

/** lspci's names for capability ids (pciutils ls-caps.c / ls-ecaps.c). Stateless. */
final class CapabilityNames {
    private CapabilityNames() {}

    static String standard(int id) {
        return switch (id) {
            case 0x01 -> "Power Management";
            case 0x02 -> "AGP";
            case 0x03 -> "Vital Product Data";
            case 0x04 -> "Slot ID";
            case 0x05 -> "MSI";
            case 0x06 -> "CompactPCI hot-swap";
            case 0x07 -> "PCI-X";
            case 0x08 -> "HyperTransport";
            case 0x09 -> "Vendor Specific Information";
            case 0x0a -> "Debug port";
            case 0x0b -> "CompactPCI central resource control";
            case 0x0c -> "Hot-plug capable";
            case 0x0d -> "Subsystem";
            case 0x0e -> "AGP3";
            case 0x0f -> "Secure device";
            case 0x10 -> "Express";
            case 0x11 -> "MSI-X";
            case 0x12 -> "SATA HBA";
            case 0x13 -> "PCI Advanced Features";
            case 0x14 -> "PCI Enhanced Allocation";
            case 0x15 -> "Flattening Portal Bridge";
            default -> String.format("Capability %02x", id);
        };
    }

    static String extended(int id) {
        return switch (id) {
            case 0x0001 -> "Advanced Error Reporting";
            case 0x0002, 0x0009 -> "Virtual Channel";
            case 0x0003 -> "Device Serial Number";
            case 0x0004 -> "Power Budgeting";
            case 0x0005 -> "Root Complex Link";
            case 0x0006 -> "Root Complex Internal Link";
            case 0x0007 -> "Root Complex Event Collector";
            case 0x0008 -> "Multi-Function Virtual Channel";
            case 0x000a -> "Root Complex Register Block";
            case 0x000b -> "Vendor Specific Information";
            case 0x000c -> "Config Access Correlation";
            case 0x000d -> "Access Control Services";
            case 0x000e -> "Alternative Routing-ID Interpretation (ARI)";
            case 0x000f -> "Address Translation Service (ATS)";
            case 0x0010 -> "Single Root I/O Virtualization (SR-IOV)";
            case 0x0011 -> "Multi-Root I/O Virtualization (MR-IOV)";
            case 0x0012 -> "Multicast";
            case 0x0013 -> "Page Request Interface (PRI)";
            case 0x0015 -> "Physical Resizable BAR";
            case 0x0016 -> "Dynamic Power Allocation";
            case 0x0017 -> "Transaction Processing Hints";
            case 0x0018 -> "Latency Tolerance Reporting";
            case 0x0019 -> "Secondary PCI Express";
            case 0x001a -> "Protocol Multiplexing";
            case 0x001b -> "Process Address Space ID (PASID)";
            case 0x001c -> "LN Requester";
            case 0x001d -> "Downstream Port Containment";
            case 0x001e -> "L1 PM Substates";
            case 0x001f -> "Precision Time Measurement";
            case 0x0023 -> "Designated Vendor-Specific";
            case 0x0024 -> "VF Resizable BAR";
            case 0x0025 -> "Data Link Feature";
            case 0x0026 -> "Physical Layer 16.0 GT/s";
            case 0x0027 -> "Lane Margining at the Receiver";
            case 0x002a -> "Physical Layer 32.0 GT/s";
            default -> String.format("Extended Capability ID %#x", id);
        };
    }
}
