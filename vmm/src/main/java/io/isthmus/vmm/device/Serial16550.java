package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * A 16550A UART (COM1 at 0x3f8, IRQ 4 in the machine): transmitted bytes go straight to the backend, received
 * bytes come from an input stream (stdin) read on a daemon thread.
 *
 * <p>Registers and interrupt identification follow QEMU's {@code hw/char/serial.c}: the transmitter is always
 * ready (THRE and TEMT set), the THR-empty interrupt is raised after each write and after IER enables it, and
 * reading IIR while it reports THR-empty clears it. Output is written through, byte by byte, as QEMU writes it,
 * so nothing sits in a buffer when the process exits. Thread-safe: the vCPU thread and the input thread
 * synchronize on the device.
 */
public final class Serial16550 implements BusDevice, Device {
    /** COM1's ports and ISA interrupt, where {@link #plug} puts it. */
    public static final int COM1 = 0x3f8, COM1_IRQ = 4;
    private static final int LSR_DR = 0x01, LSR_THRE = 0x20, LSR_TEMT = 0x40;
    private static final int IER_RDI = 0x01, IER_THRI = 0x02, IER_RLSI = 0x04, IER_MSI = 0x08;
    private static final int IIR_NO_INT = 0x01, IIR_THRI = 0x02, IIR_RDI = 0x04, IIR_FIFO = 0xc0;
    private static final int LCR_DLAB = 0x80, MCR_LOOP = 0x10, FCR_ENABLE = 0x01;
    private static final int RX_CAPACITY = 4096;

    private final OutputStream out;
    private IrqLine irq; // guarded by this; COM1's ISA line once plugged
    private final byte[] rx = new byte[RX_CAPACITY];
    private int rxHead, rxCount;
    private int ier, lcr, mcr = 0x08, scr, fcr, dll = 0x0c, dlm;
    private boolean thrPending;
    private boolean irqLevel;
    private IOException outputError;
    /** Set once the machine has ended: no byte reaches the backend and no input is taken after it. */
    private boolean closed;

    /** A UART writing to {@code out} (flushed after each byte when it buffers) and raising {@code irq}. */
    public Serial16550(OutputStream out, IrqLine irq) {
        this.out = out;
        this.irq = irq;
    }

    /** COM1 writing to {@code out}: {@link #plug} connects it to ISA IRQ 4 at ports 0x3f8-0x3ff. */
    public Serial16550(OutputStream out) {
        this(out, IrqLine.NONE);
    }

    @Override
    public void plug(Platform platform) {
        IrqLine line = platform.isaIrq(COM1_IRQ);
        synchronized (this) {
            irq = line;
        }
        platform.pio(COM1, 8, this, "serial");
    }

    /**
     * Starts a daemon thread that feeds {@code in} to the receiver until it ends or the UART is {@link #close()}d.
     * (A read blocked on the process's stdin cannot be interrupted; the thread then ends with its next byte, which
     * is dropped, or with the process.)
     */
    public void startInput(InputStream in) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[256];
            try {
                int n;
                while ((n = in.read(buf)) > 0) {
                    for (int i = 0; i < n; i++) {
                        if (!receive(buf[i])) {
                            return;
                        }
                    }
                }
            } catch (IOException e) {
                // stdin closed or unreadable: the guest simply receives nothing more.
            }
        }, "serial-input");
        t.setDaemon(true);
        t.start();
    }

    /**
     * Queues a received byte (dropped when the receive buffer is full, as a UART overruns).
     *
     * @return false once the UART is closed (the byte is dropped and no interrupt raised)
     */
    public synchronized boolean receive(byte b) {
        if (closed) {
            return false;
        }
        if (rxCount < RX_CAPACITY) {
            rx[(rxHead + rxCount) % RX_CAPACITY] = b;
            rxCount++;
        }
        updateIrq();
        return true;
    }

    @Override
    public synchronized long read(long offset, int size) {
        int v;
        switch ((int) offset) {
            case 0 -> {
                if ((lcr & LCR_DLAB) != 0) {
                    v = dll;
                } else if (rxCount > 0) {
                    v = rx[rxHead] & 0xff;
                    rxHead = (rxHead + 1) % RX_CAPACITY;
                    rxCount--;
                    updateIrq();
                } else {
                    v = 0;
                }
            }
            case 1 -> v = (lcr & LCR_DLAB) != 0 ? dlm : ier;
            case 2 -> {
                v = iir();
                if ((v & 0x0f) == IIR_THRI) {
                    thrPending = false;
                    updateIrq();
                }
            }
            case 3 -> v = lcr;
            case 4 -> v = mcr;
            case 5 -> v = LSR_THRE | LSR_TEMT | (rxCount > 0 ? LSR_DR : 0);
            case 6 -> v = (mcr & MCR_LOOP) != 0
                    ? ((mcr & 0x0c) << 4) | ((mcr & 0x01) << 5) | ((mcr & 0x02) << 3)
                    : 0xb0; // DCD, DSR, CTS: a connected line, as QEMU reports it.
            case 7 -> v = scr;
            default -> v = 0xff;
        }
        return v;
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        int v = (int) value & 0xff;
        switch ((int) offset) {
            case 0 -> {
                if ((lcr & LCR_DLAB) != 0) {
                    dll = v;
                } else {
                    if ((mcr & MCR_LOOP) != 0) {
                        receiveLocked((byte) v);
                    } else {
                        emit(v);
                    }
                    thrPending = true;
                    updateIrq();
                }
            }
            case 1 -> {
                if ((lcr & LCR_DLAB) != 0) {
                    dlm = v;
                } else {
                    int old = ier;
                    ier = v & 0x0f;
                    if ((ier & IER_THRI) != 0 && (old & IER_THRI) == 0) {
                        thrPending = true;
                    }
                    updateIrq();
                }
            }
            case 2 -> {
                fcr = v & 0xc9;
                if ((v & 0x02) != 0) {
                    rxCount = 0;
                    rxHead = 0;
                }
                updateIrq();
            }
            case 3 -> lcr = v;
            case 4 -> mcr = v & 0x1f;
            case 7 -> scr = v;
            default -> { }
        }
    }

    private void receiveLocked(byte b) {
        if (rxCount < RX_CAPACITY) {
            rx[(rxHead + rxCount) % RX_CAPACITY] = b;
            rxCount++;
        }
    }

    private void emit(int b) {
        if (outputError != null || closed) {
            return;
        }
        try {
            out.write(b);
        } catch (IOException e) {
            // A closed stdout must not stop the guest; remember it and stop writing.
            outputError = e;
        }
    }

    /** Flushes the backend (a no-op for unbuffered ones); called before the process exits. */
    public synchronized void flush() {
        try {
            out.flush();
        } catch (IOException e) {
            outputError = e;
        }
    }

    /**
     * A system reset, as QEMU's {@code serial_reset}: the registers back to their power-on values and the receive
     * buffer emptied; the interrupt line drops.
     */
    @Override
    public synchronized void reset() {
        ier = 0;
        lcr = 0;
        mcr = 0x08;
        scr = 0;
        fcr = 0;
        dll = 0x0c;
        dlm = 0;
        rxHead = 0;
        rxCount = 0;
        thrPending = false;
        updateIrq();
    }

    /**
     * Ends the UART's life with the machine's, from any thread: what the guest writes after this is dropped, as it
     * would be by a QEMU process that has exited, and input is no longer taken. Flushes the backend first.
     * Idempotent; the registers keep answering.
     */
    @Override
    public synchronized void close() {
        if (!closed) {
            flush();
            closed = true;
        }
    }

    private int iir() {
        int fifo = (fcr & FCR_ENABLE) != 0 ? IIR_FIFO : 0;
        if ((ier & IER_RDI) != 0 && rxCount > 0) {
            return IIR_RDI | fifo;
        }
        if ((ier & IER_THRI) != 0 && thrPending) {
            return IIR_THRI | fifo;
        }
        return IIR_NO_INT | fifo;
    }

    private void updateIrq() {
        boolean level = (iir() & IIR_NO_INT) == 0;
        if (level != irqLevel) {
            irqLevel = level;
            irq.set(level);
        }
    }
}
