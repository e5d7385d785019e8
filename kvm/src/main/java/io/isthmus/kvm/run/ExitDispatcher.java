package io.isthmus.kvm.run;

import io.isthmus.kvm.KvmRun;
import io.isthmus.kvm.bus.MmioBus;
import io.isthmus.kvm.bus.PioBus;

/**
 * Turns {@code KVM_EXIT_IO} and {@code KVM_EXIT_MMIO} exits into bus accesses: a plain function of the
 * {@link KvmRun} page, so it can be tested on any segment holding a synthetic exit.
 *
 * <p>Allocates nothing. Stateless apart from its buses; thread-safe as the buses are.
 */
public final class ExitDispatcher {
    private final PioBus pio;
    private final MmioBus mmio;

    /** A dispatcher to {@code pio} and {@code mmio}. */
    public ExitDispatcher(PioBus pio, MmioBus mmio) {
        this.pio = pio;
        this.mmio = mmio;
    }

    public PioBus pio() {
        return pio;
    }

    public MmioBus mmio() {
        return mmio;
    }

    /**
     * Handles the exit in {@code run} if it is IO or MMIO: an OUT or MMIO write goes to the device; an IN or MMIO
     * read stores the device's value in the page, where the kernel picks it up on the next {@code KVM_RUN}.
     *
     * @return whether the exit was IO or MMIO (and so is handled)
     */
    public boolean dispatch(KvmRun run) {
        int reason = run.exitReason();
        if (reason == KvmRun.EXIT_IO) {
            int port = run.ioPort(), size = run.ioSize(), count = run.ioCount();
            if (run.ioDirection() == KvmRun.IO_OUT) {
                for (int i = 0; i < count; i++) {
                    pio.write(port, size, run.ioData(i));
                }
            } else {
                for (int i = 0; i < count; i++) {
                    run.ioData(i, pio.read(port, size));
                }
            }
            return true;
        }
        if (reason == KvmRun.EXIT_MMIO) {
            long address = run.mmioPhysAddr();
            int len = run.mmioLen();
            if (run.mmioIsWrite()) {
                mmio.write(address, len, run.mmioData());
            } else {
                run.mmioData(mmio.read(address, len));
            }
            return true;
        }
        return false;
    }
}
