/** The KVM API: {@code Kvm}, {@code Vm}, {@code Vcpu}, guest memory, the vCPU run loop and I/O buses. */
module io.isthmus.kvm {
    requires transitive io.isthmus.bindings;
    requires org.slf4j;

    exports io.isthmus.kvm;
}
