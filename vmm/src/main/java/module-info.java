/** The reference VMM: QEMU-compatible command line, microvm-like machine, loaders, devices and QMP. */
module io.isthmus.vmm {
    requires io.isthmus.kvm;
    requires io.isthmus.sched;
    requires io.isthmus.vfio;
    requires org.slf4j;
    requires com.fasterxml.jackson.databind;
    requires HdrHistogram;
    requires info.picocli;
    requires org.jctools.core;

    exports io.isthmus.vmm;
    exports io.isthmus.vmm.boot;
    exports io.isthmus.vmm.config;
    exports io.isthmus.vmm.demo;
    exports io.isthmus.vmm.device;
    exports io.isthmus.vmm.machine;
    exports io.isthmus.vmm.passthrough;
    exports io.isthmus.vmm.pci;
    exports io.isthmus.vmm.qmp;
    exports io.isthmus.vmm.virtio;
    exports io.isthmus.vmm.vgpu;

    opens io.isthmus.vmm.demo to info.picocli;
}
