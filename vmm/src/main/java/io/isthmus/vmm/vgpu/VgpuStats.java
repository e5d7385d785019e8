package io.isthmus.vmm.vgpu;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.SingleWriterRecorder;

/**
 * One vGPU device's completion statistics, as the device sees its requests: how many completed and failed, their
 * device time, and the distribution of their completion latency (a request taken off the ring to its completion on
 * the used ring), with where that time went: queued (taken to started on the engine: the vGPU's earlier requests,
 * other vGPUs' slices, the scheduler's wake-up), on the engine (started to finished) and delivery (finished to
 * written on the used ring with its interrupt). It also remembers its latest {@value #HISTORY} completions, each with
 * the totals just after it ({@link #completion}), for measuring exactly the requests a guest names.
 *
 * <p>Lifetime: its device's, across resets; {@link #restart()} begins a new measured interval. Thread-safety: one
 * writer, the scheduler's thread that delivers completions ({@link #completed}); {@link #snapshot()} and
 * {@link #restart()} from any thread (they serialize among themselves), {@link #completion} from any thread.
 * Recording allocates nothing (an HdrHistogram recorder, whose interval histograms are swapped out by the reader, and
 * a history array made with the statistics).
 */
public final class VgpuStats {
    /** Latencies above this are recorded as this, ns (a minute: a stuck guest, not a distribution). */
    static final long MAX_LATENCY = 60_000_000_000L;

    /** How many of the latest completions {@link #completion} remembers. */
    public static final int HISTORY = 4096;
    private static final int FIELDS = 6;

    /** Per completion, by its number modulo HISTORY: when taken, then the totals just after it (errors, gpu, stages). */
    private final long[] history = new long[HISTORY * FIELDS];
    private final SingleWriterRecorder recorder = new SingleWriterRecorder(MAX_LATENCY, 2);
    private final Histogram total = new Histogram(MAX_LATENCY, 2);
    private Histogram interval;
    private volatile long requests, errors, gpuNanos, queuedNanos, engineNanos, deliverNanos;
    private volatile long longestEngineNanos; // since restart(); a race with it costs at most one request's reading
    private long base0, base1, base2, base3, base4, base5;

    /** Empty statistics. */
    public VgpuStats() {
    }

    /**
     * One request completed. The times are {@link System#nanoTime()} values (the engine's clock, for the host, CUDA and
     * paced simulated engines).
     *
     * @param ok        whether it succeeded
     * @param gpu       its device time, ns
     * @param taken     when the device took it off the ring
     * @param started   when the engine started it
     * @param finished  when the engine finished it
     * @param delivered when its completion was on the used ring
     */
    public void completed(boolean ok, long gpu, long taken, long started, long finished, long delivered) {
        // One writer: plain read-modify-write of volatile fields publishes each total without a lock; requests is
        // written last, publishing the history slot written before it.
        long n = requests, e = ok ? errors : errors + 1, g = gpuNanos + gpu;
        long q = queuedNanos + Math.max(0, started - taken), x = engineNanos + Math.max(0, finished - started);
        long d = deliverNanos + Math.max(0, delivered - finished);
        if (finished - started > longestEngineNanos) {
            longestEngineNanos = finished - started;
        }
        int at = (int) (n % HISTORY) * FIELDS;
        history[at] = taken;
        history[at + 1] = e;
        history[at + 2] = g;
        history[at + 3] = q;
        history[at + 4] = x;
        history[at + 5] = d;
        errors = e;
        gpuNanos = g;
        queuedNanos = q;
        engineNanos = x;
        deliverNanos = d;
        requests = n + 1;
        recorder.recordValue(Math.min(MAX_LATENCY, Math.max(0, delivered - taken)));
    }

    /** @return how many requests have completed since the device was made, across resets (the next one's index) */
    public long completions() {
        return requests;
    }

    /**
     * Completion number {@code index} (0 for the device's first, counting every completion since the device was made,
     * across resets): when it was taken off the ring and the totals just after it, so that the statistics of exactly
     * the requests between two completions are the difference of theirs. Null when it has not completed yet or is no
     * longer among the latest {@link #HISTORY} / 2. A guest's own clock can be matched with the host's through it: the
     * device takes a request while the guest's notify is still in its VM exit.
     */
    public Completion completion(long index) {
        long n = requests;
        if (index < 0 || index >= n || n - index > HISTORY / 2) {
            return null;
        }
        int at = (int) (index % HISTORY) * FIELDS;
        Completion c = new Completion(index, history[at], history[at + 1], history[at + 2], history[at + 3],
                history[at + 4], history[at + 5]);
        return requests - index > HISTORY / 2 ? null : c; // the writer came round to its slot meanwhile
    }

    /**
     * One completion as {@link #completion} remembers it: the totals count every completion up to and including it.
     *
     * @param index        its number
     * @param takenNanos   when the device took it off the ring, {@link System#nanoTime()}
     * @param errors       completions with an error status
     * @param gpuNanos     device time
     * @param queuedNanos  taken to started on the engine
     * @param engineNanos  started to finished
     * @param deliverNanos finished to on the used ring
     */
    public record Completion(long index, long takenNanos, long errors, long gpuNanos, long queuedNanos,
                             long engineNanos, long deliverNanos) {}

    /** Begins a new measured interval: what {@link #snapshot()} reports counts from now. */
    public synchronized void restart() {
        interval = recorder.getIntervalHistogram(interval);
        total.reset();
        base0 = requests;
        base1 = errors;
        base2 = gpuNanos;
        base3 = queuedNanos;
        base4 = engineNanos;
        base5 = deliverNanos;
        longestEngineNanos = 0;
    }

    /** @return what was recorded since the last {@link #restart()} (or since it was made) */
    public synchronized Snapshot snapshot() {
        interval = recorder.getIntervalHistogram(interval);
        total.add(interval);
        long n = requests - base0;
        return new Snapshot(n, errors - base1, gpuNanos - base2, n == 0 ? 0 : total.getValueAtPercentile(50),
                n == 0 ? 0 : total.getValueAtPercentile(99), (queuedNanos - base3) / Math.max(1.0, n),
                (engineNanos - base4) / Math.max(1.0, n), (deliverNanos - base5) / Math.max(1.0, n),
                longestEngineNanos);
    }

    /**
     * Statistics over an interval.
     *
     * @param requests     requests completed
     * @param errors       of them, those with an error status
     * @param gpuNanos     their device time, ns
     * @param p50Nanos     median completion latency (taken off the ring to on the used ring), ns
     * @param p99Nanos     its 99th percentile, ns
     * @param queuedNanos  mean time from taken to started on the engine, ns
     * @param engineNanos  mean time on the engine (its device time plus the engine path's validation and timing), ns
     * @param deliverNanos mean time from finished to on the used ring with its interrupt, ns
     * @param longestEngineNanos the longest one request was on the engine, ns: on the host engine a request the host
     *                     stalled shows here (it is charged that time, and the scheduler's lag bound is one request)
     */
    public record Snapshot(long requests, long errors, long gpuNanos, long p50Nanos, long p99Nanos, double queuedNanos,
                           double engineNanos, double deliverNanos, long longestEngineNanos) {}
}
