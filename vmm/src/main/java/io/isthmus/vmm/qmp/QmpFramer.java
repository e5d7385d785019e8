package io.isthmus.vmm.qmp;

import java.io.ByteArrayOutputStream;

/**
 * Splits a QMP byte stream into JSON texts without parsing them: it tracks only brace/bracket depth outside
 * strings, so that a message may span lines (as QEMU's streaming lexer allows) and a malformed one is handed to
 * the JSON parser — which reports it — instead of stalling the stream. Strings are QEMU's: double- or
 * single-quoted.
 *
 * <p>Lexical errors end the text at once, as QEMU's lexer ({@code qobject/json-lexer.c}) does, so that garbage
 * cannot swallow the messages after it: a byte no JSON text can hold (0xFE, 0xFF), an ASCII control character other
 * than whitespace outside a string or any control character inside one, or, between texts, a byte that cannot
 * start a JSON value ({@code %p}). The text so far goes to the parser, which reports it (one error per malformed
 * text), and the framer then skips, as QEMU's lexer recovers, to the next structural character ({@code { [ ] }})
 * or control character. A text longer than {@link #MAX_MESSAGE} is dropped whole and reported as too large. Memory
 * is bounded by that size. Not thread-safe: one per connection.
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
    /** The quote that opened the current string ('"' or '\''), or 0 outside strings. */
    private byte quote;
    private boolean escape, dropping, recovering;

    QmpFramer(Sink sink) {
        this.sink = sink;
    }

    void feed(byte[] data, int len) {
        for (int i = 0; i < len; i++) {
            byte b = data[i];
            boolean control = b >= 0 && b < 0x20;
            boolean whitespace = b == ' ' || b == '\n' || b == '\r' || b == '\t';
            if (recovering) {
                // QEMU's IN_RECOVERY: skip to a structural character (handled below) or a control character or an
                // impossible byte (consumed here: they only resynchronise).
                if (b == '{' || b == '[' || b == '}' || b == ']') {
                    recovering = false;
                } else {
                    if ((control && b != '\t') || b == (byte) 0xfe || b == (byte) 0xff) {
                        recovering = false;
                    }
                    continue;
                }
            }
            boolean inString = quote != 0;
            boolean impossible = b == (byte) 0xfe || b == (byte) 0xff || (control && (inString || !whitespace));
            boolean badStart = !inString && !dropping && depth == 0 && buf.size() == 0 && !whitespace && !impossible
                    && !startsValue(b);
            if (impossible || badStart) {
                if (dropping) {
                    dropping = false; // the oversized text was reported already
                } else {
                    buf.write(b);
                    sink.message(buf.toByteArray());
                }
                buf.reset();
                depth = 0;
                quote = 0;
                escape = false;
                recovering = !control; // a control character is itself a resynchronisation point
                continue;
            }
            if (dropping) {
                track(b);
                if (depth == 0 && quote == 0 && (b == '}' || b == ']' || b == '\n')) {
                    dropping = false;
                }
                continue;
            }
            if (depth == 0 && quote == 0 && buf.size() == 0 && whitespace) {
                continue;
            }
            buf.write(b);
            track(b);
            if (buf.size() > MAX_MESSAGE) {
                // Drop the rest of this text, following its nesting so the next one is found.
                buf.reset();
                dropping = depth > 0 || quote != 0;
                sink.tooLarge();
                continue;
            }
            boolean complete = quote == 0 && depth == 0 && ((b == '}' || b == ']') || b == '\n');
            if (complete) {
                byte[] text = buf.toByteArray();
                buf.reset();
                sink.message(text);
            }
        }
    }

    /** Whether {@code b} can begin a JSON value (QEMU's extensions included: single quotes). */
    private static boolean startsValue(byte b) {
        return b == '{' || b == '[' || b == '"' || b == '\'' || b == '-' || (b >= '0' && b <= '9') || b == 't'
                || b == 'f' || b == 'n' || b == '}' || b == ']';
    }

    private void track(byte b) {
        if (quote != 0) {
            if (escape) {
                escape = false;
            } else if (b == '\\') {
                escape = true;
            } else if (b == quote) {
                quote = 0;
            }
            return;
        }
        switch (b) {
            case '"', '\'' -> quote = b;
            case '{', '[' -> depth++;
            case '}', ']' -> depth = Math.max(0, depth - 1);
            default -> { }
        }
    }
}
