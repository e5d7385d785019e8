/** The VFIO API: container, group, device, regions, DMA, IRQs and sysfs PCI; and the {@code isthmus vfio} CLI. */
module io.isthmus.vfio {
    requires transitive io.isthmus.bindings;
    requires org.slf4j;
    requires info.picocli;

    exports io.isthmus.vfio;
    exports io.isthmus.vfio.pci;
    exports io.isthmus.vfio.dma;

    opens io.isthmus.vfio.cli to info.picocli;
}
