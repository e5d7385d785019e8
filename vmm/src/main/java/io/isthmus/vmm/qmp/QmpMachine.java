package io.isthmus.vmm.qmp;

import io.isthmus.vmm.machine.MachineListener;
import io.isthmus.vmm.machine.MicroVm;
import io.isthmus.vmm.pci.PciBus;
import io.isthmus.vmm.pci.PcieHost;

/**
 * What the QMP server asks of a machine: its state, name and vCPU threads, the run-control commands, and its events.
 * {@link #of(MicroVm)} is the VMM's machine; tests put a stand-in behind the same server (protocol hardening and
 * fuzzing without KVM). Implementations must be thread-safe: the server calls from its session thread.
 */
public interface QmpMachine {
    /** The current run state. */
    MicroVm.RunState state();

    /** Whether the vCPUs are running. */
    boolean running();

    /** The {@code -name}, or null. */
    String name();

    /** Host thread ids of the vCPUs as far as known (0 until known). */
    int[] vcpuThreadIds();

    /** {@code stop}. */
    void stop();

    /** {@code cont}. */
    void cont();

    /** {@code system_reset}. */
    void systemReset();

    /** {@code quit}: the machine ends after the reply has been sent. */
    void quit();

    /** Subscribes {@code l} to the machine's events. */
    void addListener(MachineListener l);

    /** The PCI bus of {@code -M microvm,pcie=on}, or null (no PCI bus): what {@code query-pci} lists. */
    default PciBus pciBus() {
        return null;
    }

    /** The VMM's machine. */
    static QmpMachine of(MicroVm vm) {
        return new QmpMachine() {
            @Override
            public MicroVm.RunState state() {
                return vm.state();
            }

            @Override
            public boolean running() {
                return vm.running();
            }

            @Override
            public String name() {
                return vm.config().name();
            }

            @Override
            public int[] vcpuThreadIds() {
                return vm.vcpuThreadIds();
            }

            @Override
            public void stop() {
                vm.stop();
            }

            @Override
            public void cont() {
                vm.cont();
            }

            @Override
            public void systemReset() {
                vm.systemReset();
            }

            @Override
            public void quit() {
                vm.quit();
            }

            @Override
            public void addListener(MachineListener l) {
                vm.addListener(l);
            }

            @Override
            public PciBus pciBus() {
                PcieHost host = vm.devices().find(PcieHost.class);
                return host == null ? null : host.bus();
            }
        };
    }
}
