package io.isthmus.vmm.qmp;

import io.isthmus.vmm.config.VmConfig;
import io.isthmus.vmm.machine.MicroVm;

import java.io.PrintStream;

/** QMP server placeholder. */
public final class QmpServer {
    private QmpServer() {}

    /** Starts serving QMP on the socket. */
    public static void start(VmConfig.QmpSocket socket, MicroVm vm, PrintStream err) {
        throw new IllegalStateException("QMP is not implemented yet");
    }
}
