/**
 * The KVM API: {@code Kvm}, {@code Vm}, {@code Vcpu}, guest memory, the vCPU run loop and I/O buses.
 *
 * <p>Needs only {@code io.isthmus.bindings} for native access; run with
 * {@code --enable-native-access=io.isthmus.bindings}.
 */
module io.isthmus.kvm {
    requires transitive io.isthmus.bindings;
    requires org.slf4j;

    exports io.isthmus.kvm;
    exports io.isthmus.kvm.bus;
    exports io.isthmus.kvm.memory;
    exports io.isthmus.kvm.run;
    exports io.isthmus.kvm.x86;
}
