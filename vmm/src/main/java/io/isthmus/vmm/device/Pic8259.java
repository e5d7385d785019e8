package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;

/**
 * The PC's pair of 8259A programmable interrupt controllers: a master at ports 0x20-0x21 whose INTR output goes
 * to the boot vCPU, a slave at 0xa0-0xa1 cascaded on the master's IRQ 2, and the two edge/level control
 * registers (ELCR) at 0x4d0-0x4d1.
 *
 * <p>Behaviour follows QEMU's {@code hw/intc/i8259.c} and {@code i8259_common.c}, the model a guest of
 * {@code qemu-system-x86_64 -M microvm} with a split irqchip sees: the full ICW1-ICW4 / OCW1-OCW3 command set,
 * rotating and specific priorities, automatic EOI, special mask and special fully nested mode, the poll command,
 * spurious IRQ 7 (master) and 15 (slave), and ELCR-selected level triggering. Like QEMU (and unlike the chip),
 * the ICW1 "level triggered" bit is ignored; only the ELCR chooses level triggering. The slave's output drives
 * the master's IRQ 2 input as an edge-triggered line, exactly as QEMU wires it.
 *
 * <p>Lifetime: one per VM, created before the vCPUs run; it holds no threads or native resources.
 *
 * <p>Threading: every method may be called from any thread (vCPU threads, device threads); state is guarded by
 * this object's monitor. {@code onInterrupt} is always run after that monitor is released, on the thread whose
 * call raised INTR, so it may call back into this object (for example {@link #hasInterrupt()}).
 */
public final class Pic8259 {
    /** QEMU's ELCR write masks: IRQ 0-2 (timer, keyboard, cascade) and 8, 13 must stay edge triggered. */
    private static final int MASTER_ELCR_MASK = 0xf8, SLAVE_ELCR_MASK = 0xde;

    private final Runnable onInterrupt;
    private final Chip master = new Chip(true, MASTER_ELCR_MASK);
    private final Chip slave = new Chip(false, SLAVE_ELCR_MASK);
    private final BusDevice masterPorts = new Ports(master);
    private final BusDevice slavePorts = new Ports(slave);
    private final BusDevice elcrPorts = new Elcr();

    /** The master's INTR output as last computed. Guarded by {@code this}. */
    private boolean intr;
    /** Set under the monitor when INTR rose; the public entry points run {@link #onInterrupt} once it is released. */
    private boolean kick;

    /**
     * A PIC pair in its reset state (all IRQs unmasked, edge triggered, vector base 0, as QEMU after reset).
     *
     * @param onInterrupt run whenever the master's INTR output goes from low to high, outside this object's lock
     *                    and on the thread that caused it; the VMM kicks the boot vCPU so it acknowledges the
     *                    interrupt. It is not run again while INTR stays high, so the vCPU should re-check
     *                    {@link #hasInterrupt()} after each {@link #acknowledge()} and after each EOI it sees.
     */
    public Pic8259(Runnable onInterrupt) {
        this.onInterrupt = onInterrupt;
    }

    /**
     * A system reset, as QEMU's {@code pic_reset}: both chips to their reset state with the ELCRs cleared; INTR
     * drops. Input lines keep their levels (a device still asserting one re-raises it when it next changes).
     */
    public synchronized void reset() {
        for (Chip c : new Chip[] {master, slave}) {
            c.elcr = 0;
            c.initReset();
        }
        updateIrq(slave);
        updateIrq(master);
        kick = false;
    }

    /** The master's command/data ports: offset 0 is port 0x20, offset 1 is 0x21. Thread-safe. */
    public BusDevice master() {
        return masterPorts;
    }

    /** The slave's command/data ports: offset 0 is port 0xa0, offset 1 is 0xa1. Thread-safe. */
    public BusDevice slave() {
        return slavePorts;
    }

    /** The ELCRs: offset 0 (port 0x4d0) is the master's, offset 1 (0x4d1) the slave's. Thread-safe. */
    public BusDevice elcr() {
        return elcrPorts;
    }

    /**
     * Drives ISA interrupt line {@code irq} (0-7 on the master, 8-15 on the slave) to {@code level}. An
     * edge-triggered line latches a request on its rising edge only; a level-triggered one (ELCR bit set) requests
     * for as long as it is high, as QEMU's {@code pic_set_irq}. Out-of-range lines are ignored. Thread-safe; may
     * run {@code onInterrupt} before returning.
     */
    public void setIrq(int irq, boolean level) {
        if (irq < 0 || irq > 15) {
            return;
        }
        boolean run;
        synchronized (this) {
            setIrqLocked(irq < 8 ? master : slave, irq & 7, level);
            run = takeKick();
        }
        if (run) {
            onInterrupt.run();
        }
    }

    /** Whether INTR is high: an unmasked request outranks everything in service (through the cascade). */
    public synchronized boolean hasInterrupt() {
        return intr;
    }

    /**
     * The interrupt-acknowledge cycle: returns the vector to inject and moves the request from IRR to ISR (or,
     * in automatic-EOI mode, retires it at once, rotating priorities when rotate-on-AEOI is set), as QEMU's
     * {@code pic_read_irq}. With nothing pending it returns the spurious vector of IRQ 7 (master base + 7), or of
     * IRQ 15 when the master picked the cascade but the slave has nothing. Thread-safe; may run
     * {@code onInterrupt} before returning (automatic EOI can raise INTR for the next request).
     */
    public int acknowledge() {
        int vector;
        boolean run;
        synchronized (this) {
            int irq = master.pendingIrq();
            if (irq >= 0) {
                if (irq == 2) {
                    int irq2 = slave.pendingIrq();
                    if (irq2 >= 0) {
                        intack(slave, irq2);
                    } else {
                        irq2 = 7; // the slave withdrew its request: spurious IRQ 15
                    }
                    vector = (slave.irqBase + irq2) & 0xff;
                } else {
                    vector = (master.irqBase + irq) & 0xff;
                }
                intack(master, irq);
            } else {
                vector = (master.irqBase + 7) & 0xff; // spurious IRQ 7
            }
            run = takeKick();
        }
        if (run) {
            onInterrupt.run();
        }
        return vector;
    }

    // ---- internals; all called with the monitor held ----

    private void setIrqLocked(Chip c, int irq, boolean level) {
        int mask = 1 << irq;
        if ((c.elcr & mask) != 0) {
            // Level triggered: the request follows the line.
            if (level) {
                c.irr |= mask;
                c.lastIrr |= mask;
            } else {
                c.irr &= ~mask;
                c.lastIrr &= ~mask;
            }
        } else if (level) {
            // Edge triggered: only a low-to-high transition latches a request.
            if ((c.lastIrr & mask) == 0) {
                c.irr |= mask;
            }
            c.lastIrr |= mask;
        } else {
            c.lastIrr &= ~mask;
        }
        updateIrq(c);
    }

    /** Recomputes a chip's output: the slave's feeds master IRQ 2, the master's is INTR. */
    private void updateIrq(Chip c) {
        boolean out = c.pendingIrq() >= 0;
        if (c == slave) {
            setIrqLocked(master, 2, out);
        } else {
            if (out && !intr) {
                kick = true;
            }
            intr = out;
        }
    }

    private void intack(Chip c, int irq) {
        if (c.autoEoi) {
            if (c.rotateOnAutoEoi) {
                c.priorityAdd = (irq + 1) & 7;
            }
        } else {
            c.isr |= 1 << irq;
        }
        // A level-triggered request stays in IRR: it is the line, not a latch.
        if ((c.elcr & (1 << irq)) == 0) {
            c.irr &= ~(1 << irq);
        }
        updateIrq(c);
    }

    private boolean takeKick() {
        boolean k = kick;
        kick = false;
        return k;
    }

    private void writePort(Chip c, int port, int val) {
        if (port == 0) {
            if ((val & 0x10) != 0) {
                // ICW1: reinitialise; ICW2 (and ICW3/ICW4 as announced) follow on the data port.
                c.initReset();
                updateIrq(c);
                c.initState = 1;
                c.init4 = (val & 0x01) != 0;
                c.singleMode = (val & 0x02) != 0;
                // Bit 3 (LTIM, level triggered) is ignored, as QEMU does: the ELCR decides per line.
            } else if ((val & 0x08) != 0) {
                // OCW3
                if ((val & 0x04) != 0) {
                    c.poll = true;
                }
                if ((val & 0x02) != 0) {
                    c.readIsr = (val & 0x01) != 0;
                }
                if ((val & 0x40) != 0) {
                    c.specialMask = (val & 0x20) != 0;
                }
            } else {
                ocw2(c, val);
            }
        } else {
            switch (c.initState) {
                case 0 -> { // OCW1
                    c.imr = val;
                    updateIrq(c);
                }
                case 1 -> { // ICW2: the vector base; the low three bits are the IRQ number.
                    c.irqBase = val & 0xf8;
                    c.initState = c.singleMode ? (c.init4 ? 3 : 0) : 2;
                }
                case 2 -> c.initState = c.init4 ? 3 : 0; // ICW3: the cascade wiring is fixed; nothing to keep.
                case 3 -> { // ICW4
                    c.specialFullyNested = (val & 0x10) != 0;
                    c.autoEoi = (val & 0x02) != 0;
                    c.initState = 0;
                }
                default -> c.initState = 0;
            }
        }
    }

    private void ocw2(Chip c, int val) {
        int cmd = val >> 5;
        switch (cmd) {
            case 0, 4 -> c.rotateOnAutoEoi = cmd == 4; // clear / set rotate in automatic EOI mode
            case 1, 5 -> { // non-specific EOI, optionally rotating
                int priority = c.priority(c.isr);
                if (priority != 8) {
                    int irq = (priority + c.priorityAdd) & 7;
                    c.isr &= ~(1 << irq);
                    if (cmd == 5) {
                        c.priorityAdd = (irq + 1) & 7;
                    }
                    updateIrq(c);
                }
            }
            case 3 -> { // specific EOI
                c.isr &= ~(1 << (val & 7));
                updateIrq(c);
            }
            case 6 -> { // set priority: the named IRQ becomes the lowest
                c.priorityAdd = (val + 1) & 7;
                updateIrq(c);
            }
            case 7 -> { // rotate on specific EOI
                int irq = val & 7;
                c.isr &= ~(1 << irq);
                c.priorityAdd = (irq + 1) & 7;
                updateIrq(c);
            }
            default -> { } // 2: no operation
        }
    }

    private int readPort(Chip c, int port) {
        if (c.poll) {
            // Poll command: this read is the acknowledge; bit 7 says whether there was a request.
            c.poll = false;
            int irq = c.pendingIrq();
            if (irq >= 0) {
                intack(c, irq);
                return irq | 0x80;
            }
            return 0;
        }
        if (port == 0) {
            return c.readIsr ? c.isr : c.irr;
        }
        return c.imr;
    }

    /** One 8259A's registers, as QEMU's {@code PICCommonState}. Guarded by the enclosing {@code Pic8259}. */
    private static final class Chip {
        final boolean isMaster;
        final int elcrMask;
        int irr, imr, isr, lastIrr;
        int priorityAdd;
        int irqBase;
        boolean readIsr, poll, specialMask;
        int initState;
        boolean autoEoi, rotateOnAutoEoi, specialFullyNested, init4, singleMode;
        int elcr;

        Chip(boolean isMaster, int elcrMask) {
            this.isMaster = isMaster;
            this.elcrMask = elcrMask;
        }

        /** QEMU's {@code pic_reset_common}: everything but the ELCR; pending level requests survive. */
        void initReset() {
            lastIrr = 0;
            irr &= elcr;
            imr = 0;
            isr = 0;
            priorityAdd = 0;
            irqBase = 0;
            readIsr = false;
            poll = false;
            specialMask = false;
            initState = 0;
            autoEoi = false;
            rotateOnAutoEoi = false;
            specialFullyNested = false;
            init4 = false;
            singleMode = false;
        }

        /** The highest priority (0 highest) among the bits of {@code mask} under the current rotation; 8 if none. */
        int priority(int mask) {
            if ((mask & 0xff) == 0) {
                return 8;
            }
            int p = 0;
            while ((mask & (1 << ((p + priorityAdd) & 7))) == 0) {
                p++;
            }
            return p;
        }

        /** The IRQ this chip would present, or -1: an unmasked request above the highest priority in service. */
        int pendingIrq() {
            int priority = priority(irr & ~imr);
            if (priority == 8) {
                return -1;
            }
            int inService = isr;
            if (specialMask) {
                // Special mask mode: masked in-service levels no longer hold off lower priorities.
                inService &= ~imr;
            }
            if (specialFullyNested && isMaster) {
                // Special fully nested mode: a slave in service does not block further slave requests.
                inService &= ~(1 << 2);
            }
            return priority < priority(inService) ? (priority + priorityAdd) & 7 : -1;
        }
    }

    /** A chip's two ports. QEMU implements them as 1-byte registers; wider accesses are split into bytes. */
    private final class Ports implements BusDevice {
        private final Chip chip;

        Ports(Chip chip) {
            this.chip = chip;
        }

        @Override
        public long read(long offset, int size) {
            long v = 0;
            boolean run;
            synchronized (Pic8259.this) {
                for (int i = 0; i < size && i < 8; i++) {
                    long port = offset + i;
                    long b = port >= 0 && port < 2 ? readPort(chip, (int) port) : 0xff;
                    v |= b << (8 * i);
                }
                run = takeKick();
            }
            if (run) {
                onInterrupt.run();
            }
            return v;
        }

        @Override
        public void write(long offset, int size, long value) {
            boolean run;
            synchronized (Pic8259.this) {
                for (int i = 0; i < size && i < 8; i++) {
                    long port = offset + i;
                    if (port >= 0 && port < 2) {
                        writePort(chip, (int) port, (int) (value >>> (8 * i)) & 0xff);
                    }
                }
                run = takeKick();
            }
            if (run) {
                onInterrupt.run();
            }
        }
    }

    /** Ports 0x4d0 (master) and 0x4d1 (slave): which lines are level triggered. */
    private final class Elcr implements BusDevice {
        @Override
        public long read(long offset, int size) {
            synchronized (Pic8259.this) {
                long v = 0;
                for (int i = 0; i < size && i < 8; i++) {
                    long port = offset + i;
                    long b = port == 0 ? master.elcr : port == 1 ? slave.elcr : 0xff;
                    v |= b << (8 * i);
                }
                return v;
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            synchronized (Pic8259.this) {
                for (int i = 0; i < size && i < 8; i++) {
                    long port = offset + i;
                    int b = (int) (value >>> (8 * i)) & 0xff;
                    // As QEMU: the new mode applies from the next line change; IRR is not re-evaluated here.
                    if (port == 0) {
                        master.elcr = b & master.elcrMask;
                    } else if (port == 1) {
                        slave.elcr = b & slave.elcrMask;
                    }
                }
            }
        }
    }
}
