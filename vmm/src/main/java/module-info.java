/** The reference VMM: QEMU-compatible command line, microvm-like machine, loaders, devices and QMP. */
module io.isthmus.vmm {
    requires io.isthmus.kvm;
    requires org.slf4j;

    exports io.isthmus.vmm;
}
