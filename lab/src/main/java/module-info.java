/**
 * Test support: a QEMU guest with an emulated IOMMU, the edu PCI device and nested KVM, in which integration
 * tests run; see {@link io.isthmus.lab} for how.
 */
module io.isthmus.lab {
    requires java.xml;
    requires transitive org.junit.jupiter.api;

    exports io.isthmus.lab;
}
