package io.isthmus.vmm.qmp;

import java.io.ByteArrayOutputStream;

/**
 * Splits a QMP byte stream into JSON texts without parsing them: it tracks only brace/bracket depth outside
 * strings, so that a message may span lines (as QEMU's streaming lexer allows) and a malformed one is handed to
 * the JSON parser — which reports it — instead of stalling the stream. A text longer than {@link #MAX_MESSAGE}
 * is dropped whole and reported as too large. Not thread-safe: one per connection.
 */
final class QmpFramer {
    /** The largest accepted message in bytes. */
    static final int MAX_MESSAGE = 1 << 20;

    /** Receives complete texts; {@code tooLarge} when one was dropped for size. */
    interface Sink {
        void message(byte[] text);

        void tooLarge();
    }

    private final ByteArrayOutputStream buf = new ByteArrayOutputStream();
    private final Sink sink;
    private int depth;
    private boolean inString, escape, dropping;

    QmpFramer(Sink sink) {
        this.sink = sink;
    }

    void feed(byte[] data, int len) {
        for (int i = 0; i < len; i++) {
            byte b = data[i];
            // Bytes no JSON text can hold, and a raw line break inside a string, end the text as malformed
            // (QEMU's lexer resets on them too), so garbage cannot swallow the messages after it.
            boolean invalid = b == 0 || b == (byte) 0xff || b == (byte) 0xfe || (inString && (b == '\n' || b == '\r'));
            if (invalid) {
                if (dropping) {
                    dropping = false;
                } else {
                    buf.write(b);
                    sink.message(buf.toByteArray());
                }
                buf.reset();
                depth = 0;
                inString = false;
                escape = false;
                continue;
            }
            if (dropping) {
                track(b);
                if (depth == 0 && !inString && (b == '}' || b == ']' || b == '\n')) {
                    dropping = false;
                }
                continue;
            }
            if (depth == 0 && !inString && buf.size() == 0 && (b == ' ' || b == '\n' || b == '\r' || b == '\t')) {
                continue;
            }
            buf.write(b);
            track(b);
            if (buf.size() > MAX_MESSAGE) {
                // Drop the rest of this text, following its nesting so the next one is found.
                buf.reset();
                dropping = depth > 0 || inString;
                sink.tooLarge();
                continue;
            }
            boolean complete = !inString && depth == 0 && ((b == '}' || b == ']') || b == '\n');
            if (complete) {
                byte[] text = buf.toByteArray();
                buf.reset();
                sink.message(text);
            }
        }
    }

    private void track(byte b) {
        if (inString) {
            if (escape) {
                escape = false;
            } else if (b == '\\') {
                escape = true;
            } else if (b == '"') {
                inString = false;
            }
            return;
        }
        switch (b) {
            case '"' -> inString = true;
            case '{', '[' -> depth++;
            case '}', ']' -> depth = Math.max(0, depth - 1);
            default -> { }
        }
    }
}
