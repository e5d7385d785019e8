package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * A 16550A UART (COM1 at 0x3f8, IRQ 4 in the machine): transmitted bytes go to the backend through a bounded
 * transmit queue that a daemon thread drains, received bytes come from an input stream (stdin) read on another.
 *
 * <p>Registers and interrupt identification follow QEMU's {@code hw/char/serial.c}: while the backend keeps up the
 * transmitter is always ready (THRE and TEMT set), the THR-empty interrupt is raised after each write and after IER
 * enables it, and reading IIR while it reports THR-empty clears it.
 *
 * <p>A guest is hostile and a reader may be slow, so neither can make the other wait or grow memory: the vCPU only
 * ever puts a byte in the {@value #TX_CAPACITY}-byte queue, never writes to the backend itself. When fewer than
 * {@value #FIFO} bytes (a 16550's FIFO) are free the transmitter reports busy (THRE and TEMT clear) until the
 * reader catches up, then raises THR-empty again, as a real UART behind a slow line; a byte written regardless is
 * dropped and counted ({@link #droppedBytes}), as a UART overruns. Input works the other way round: the input thread
 * stops reading the host while the {@value #RX_CAPACITY}-byte receive buffer is full, so a host writing at full
 * speed is held back instead of losing bytes (QEMU's {@code can_receive}). {@link #flush} and {@link #close} wait
 * for the queue to drain (nothing pending when the process exits), giving up after {@value #DRAIN_PATIENCE_MS} ms
 * in which the backend took nothing. Thread-safe: the vCPU thread, the output thread and the input thread
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
    /** The transmit queue's size: what a stalled reader can leave pending. */
    static final int TX_CAPACITY = 64 * 1024;
    /** A 16550's FIFO: THRE promises room for this many bytes. */
    static final int FIFO = 16;
    /** How long {@link #flush} waits for a backend that takes no byte at all. */
    static final long DRAIN_PATIENCE_MS = 2000;
    private static final int CHUNK = 8192;
    /** How long the output thread gathers bytes after the first one before writing them. */
    static final long LINGER_MS = 1;

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
    private final byte[] tx = new byte[TX_CAPACITY];
    private int txHead, txCount;
    /** Bytes the output thread has taken from the queue and is writing. */
    private int txInFlight;
    /** The transmitter reported busy: raise THR-empty once there is room again. */
    private boolean txBlocked;
    private long dropped, transmitted;
    private Thread writer;
    /** A {@link #flush} is waiting: the output thread writes at once instead of gathering. */
    private boolean flushWaiting;

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
                        if (!receiveWaiting(buf[i])) {
                            return;
                        }
                    }
                }
            } catch (IOException e) {
                // stdin closed or unreadable: the guest simply receives nothing more.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
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

    /**
     * Queues a received byte, waiting while the receive buffer is full (the host's input is held back, not
     * dropped: QEMU reads no more from a backend while the UART cannot take it).
     *
     * @return false once the UART is closed
     */
    synchronized boolean receiveWaiting(byte b) throws InterruptedException {
        while (rxCount == RX_CAPACITY && !closed) {
            wait();
        }
        return receive(b);
    }

    /** Bytes the guest wrote while the transmitter was busy (a stalled or slow reader), dropped as an overrun. */
    public synchronized long droppedBytes() {
        return dropped;
    }

    /** Bytes the backend has taken. */
    public synchronized long transmittedBytes() {
        return transmitted;
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
                    if (rxCount-- == RX_CAPACITY) {
                        notifyAll(); // the input thread may take the host's next byte
                    }
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
            case 5 -> v = (txBusy() ? 0 : LSR_THRE | LSR_TEMT) | (rxCount > 0 ? LSR_DR : 0);
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
                    if (txBusy()) {
                        txBlocked = true; // THR-empty comes when the reader has made room
                        thrPending = false;
                    } else {
                        thrPending = true;
                    }
                    updateIrq();
                }
            }
            case 1 -> {
                if ((lcr & LCR_DLAB) != 0) {
                    dlm = v;
                } else {
                    int old = ier;
                    ier = v & 0x0f;
                    if ((ier & IER_THRI) != 0 && (old & IER_THRI) == 0 && !txBusy()) {
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
                    notifyAll();
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

    /** Whether the transmitter is busy: fewer than a FIFO's worth of bytes free in the queue. */
    private boolean txBusy() {
        return TX_CAPACITY - txCount < FIFO;
    }

    /** Queues a transmitted byte for the output thread; never blocks (a full queue drops it). */
    private void emit(int b) {
        if (outputError != null || closed) {
            return;
        }
        if (txCount == TX_CAPACITY) {
            dropped++;
            return;
        }
        tx[(txHead + txCount) % TX_CAPACITY] = (byte) b;
        if (txCount++ == 0) {
            if (writer == null) {
                writer = Thread.ofPlatform().daemon().name("serial-output").start(this::drain);
            }
            notifyAll();
        }
    }

    /**
     * The output thread: takes what the guest queued and writes it to the backend, outside the lock. Woken by the
     * first byte after an empty queue, it lingers {@value #LINGER_MS} ms before taking what has gathered, so that a
     * guest printing byte by byte costs one hand-over between threads per millisecond, not per byte (on the lab's
     * nested, emulated CPUs a hand-over costs about a millisecond itself).
     */
    private void drain() {
        byte[] chunk = new byte[CHUNK];
        while (true) {
            int n;
            synchronized (this) {
                while (txCount == 0 && !closed && outputError == null) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                // Gather for a moment, unless the queue is already large or someone waits for it to drain.
                long until = System.nanoTime() + LINGER_MS * 1_000_000;
                for (long left; txCount < CHUNK && !closed && !flushWaiting
                        && (left = until - System.nanoTime()) > 0; ) {
                    try {
                        wait(Math.max(1, left / 1_000_000), (int) (left % 1_000_000));
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (txCount == 0 || outputError != null) {
                    writer = null;
                    notifyAll();
                    return;
                }
                n = Math.min(Math.min(txCount, CHUNK), TX_CAPACITY - txHead);
                System.arraycopy(tx, txHead, chunk, 0, n);
                txHead = (txHead + n) % TX_CAPACITY;
                txCount -= n;
                txInFlight = n;
            }
            IOException error = null;
            try {
                out.write(chunk, 0, n);
            } catch (IOException e) {
                error = e; // a closed stdout must not stop the guest: remember it and stop writing
            }
            synchronized (this) {
                txInFlight = 0;
                if (error != null) {
                    outputError = error;
                    txCount = 0;
                } else {
                    transmitted += n;
                }
                if (txBlocked && !txBusy()) {
                    txBlocked = false;
                    thrPending = true;
                    updateIrq();
                }
                notifyAll();
            }
        }
    }

    /**
     * Waits until the backend has taken every queued byte (or took none for {@value #DRAIN_PATIENCE_MS} ms, or
     * failed), then flushes it; called before the process exits.
     */
    public synchronized void flush() {
        long lastProgress = System.nanoTime();
        long seen = transmitted;
        if (txCount > 0) {
            flushWaiting = true;
            notifyAll();
        }
        while ((txCount > 0 || txInFlight > 0) && outputError == null) {
            if (transmitted != seen) {
                seen = transmitted;
                lastProgress = System.nanoTime();
            } else if (System.nanoTime() - lastProgress > DRAIN_PATIENCE_MS * 1_000_000) {
                dropped += txCount; // a reader that takes nothing: give up on what is queued
                txCount = 0;
                break;
            }
            try {
                wait(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        flushWaiting = false;
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
            notifyAll(); // the output thread ends, the input thread stops waiting for room
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
