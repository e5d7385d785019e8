package io.isthmus.vfio;

import io.isthmus.bindings.vfio.vfio_h;

/**
 * One interrupt index of a device ({@code VFIO_DEVICE_GET_IRQ_INFO}): for PCI, INTx (0), MSI (1), MSI-X (2),
 * error (3) and request (4); {@code count} is how many vectors it has.
 */
public record IrqInfo(int index, int flags, int count) {
    /** PCI interrupt indexes, in the kernel's numbering. */
    public static final int INTX = 0, MSI = 1, MSIX = 2, ERR = 3, REQ = 4;

    public boolean eventfd() {
        return (flags & vfio_h.VFIO_IRQ_INFO_EVENTFD()) != 0;
    }

    public boolean maskable() {
        return (flags & vfio_h.VFIO_IRQ_INFO_MASKABLE()) != 0;
    }

    public boolean automasked() {
        return (flags & vfio_h.VFIO_IRQ_INFO_AUTOMASKED()) != 0;
    }

    public boolean noresize() {
        return (flags & vfio_h.VFIO_IRQ_INFO_NORESIZE()) != 0;
    }

    /** The PCI name of an interrupt index. */
    public static String name(int index) {
        return switch (index) {
            case INTX -> "INTx";
            case MSI -> "MSI";
            case MSIX -> "MSI-X";
            case ERR -> "ERR";
            case REQ -> "REQ";
            default -> "IRQ" + index;
        };
    }

    public String describe() {
        return String.format("%-6s count %d%s%s%s%s", name(index), count, eventfd() ? " eventfd" : "",
                maskable() ? " maskable" : "", automasked() ? " automasked" : "", noresize() ? " noresize" : "");
    }
}
