/** Test support: a QEMU guest with an emulated IOMMU, the edu PCI device and nested KVM. */
module io.isthmus.lab {
    requires org.slf4j;

}
