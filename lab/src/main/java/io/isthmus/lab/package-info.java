/** The QEMU lab that gives integration tests a real IOMMU, a real PCI device and nested KVM. */
package io.isthmus.lab;
