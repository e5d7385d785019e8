package io.isthmus.vmm.virtio;

import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * A rate limit on one transport's reports of why its device was marked broken (the machine puts one between each
 * {@link VirtioMmioTransport} and its log; the transport itself reports every break, which its tests count). A hostile driver can break its
 * device, reset it and break it again in a loop, thousands of times a second; reporting each would grow the VMM's
 * log (or a caller's captured stderr) without bound. A token bucket passes a burst of {@link #BURST} reports, then
 * one per {@link #REFILL_NANOS}; the reports it drops are counted and the count is appended to the next report it
 * passes ("(N similar reports suppressed)"), so the log says how often it happened without saying it each time.
 *
 * <p>Lifetime: its transport's. Thread-safety: {@link #report} from any thread (the vCPU threads of one machine).
 */
public final class ReportLimiter implements Consumer<String> {
    /** Reports passed at once before the limit starts. */
    static final int BURST = 8;
    /** One more report may pass after this long, ns. */
    static final long REFILL_NANOS = 1_000_000_000L;

    private final Consumer<String> sink;
    private final LongSupplier clock;
    private long tokens = BURST;
    private long refilledAt;
    private long suppressed;

    /** Passes reports to {@code sink} at the rate above, timed by {@code clock} (ns; {@link System#nanoTime}). */
    public ReportLimiter(Consumer<String> sink, LongSupplier clock) {
        this.sink = sink;
        this.clock = clock;
        this.refilledAt = clock.getAsLong();
    }

    /** Reports {@code line}, or counts it as suppressed when the bucket is empty. */
    @Override
    public void accept(String line) {
        String out;
        synchronized (this) {
            long now = clock.getAsLong();
            long earned = (now - refilledAt) / REFILL_NANOS;
            if (earned > 0) {
                tokens = Math.min(BURST, tokens + earned);
                refilledAt += earned * REFILL_NANOS;
            }
            if (tokens == 0) {
                suppressed++;
                return;
            }
            tokens--;
            out = suppressed == 0 ? line : line + " (" + suppressed + " similar reports suppressed)";
            suppressed = 0;
        }
        sink.accept(out);
    }

    /** @return reports dropped since the last one passed */
    synchronized long suppressed() {
        return suppressed;
    }
}
