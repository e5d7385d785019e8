package io.isthmus.vmm.demo;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.function.ObjLongConsumer;

/**
 * A guest's serial output ({@code -serial stdio}'s host stream) cut into lines: each complete line goes, with the
 * {@link System#nanoTime()} its newline arrived at, to a listener on the writing thread (the UART's output thread,
 * which hands bytes over a little after the guest wrote them), and the last lines are kept for error messages.
 * Carriage returns are dropped; a line longer than 4 KiB is cut there.
 *
 * <p>Lifetime: its machine's. Thread-safety: one writer (the UART's output thread); {@link #tail()} from any thread
 * (the partial line it adds is read without a lock: for messages only).
 */
final class SerialLines extends OutputStream {
    private static final int MAX_LINE = 4096, KEEP = 40;

    private final ObjLongConsumer<String> listener;
    private final byte[] line = new byte[MAX_LINE];
    private final ArrayDeque<String> last = new ArrayDeque<>();
    private int length;

    /** @param listener gets each complete line and when it arrived */
    SerialLines(ObjLongConsumer<String> listener) {
        this.listener = listener;
    }

    @Override
    public void write(int b) {
        if (b == '\n') {
            long at = System.nanoTime();
            String s = new String(line, 0, length, StandardCharsets.ISO_8859_1);
            length = 0;
            synchronized (last) {
                if (last.size() == KEEP) {
                    last.removeFirst();
                }
                last.addLast(s);
            }
            listener.accept(s, at);
        } else if (b != '\r' && length < MAX_LINE) {
            line[length++] = (byte) b;
        }
    }

    @Override
    public void write(byte[] b, int off, int len) {
        for (int i = 0; i < len; i++) {
            write(b[off + i]);
        }
    }

    /** @return the last lines the guest printed (a partial one included), oldest first */
    String tail() {
        StringBuilder sb = new StringBuilder();
        synchronized (last) {
            last.forEach(s -> sb.append(s).append('\n'));
        }
        return sb.append(new String(Arrays.copyOf(line, length), StandardCharsets.ISO_8859_1)).toString();
    }
}
