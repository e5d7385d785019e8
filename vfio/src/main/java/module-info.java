/** The VFIO API: container, group, device, regions, DMA, IRQs and sysfs PCI. */
module io.isthmus.vfio {
    requires transitive io.isthmus.bindings;
    requires org.slf4j;

    exports io.isthmus.vfio;
}
