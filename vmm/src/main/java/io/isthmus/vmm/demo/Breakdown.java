package io.isthmus.vmm.demo;

import java.io.PrintWriter;
import java.util.Locale;

import io.isthmus.vmm.vgpu.VgpuStats;

/**
 * Where one request's time goes on the virtual path at depth 1, from two {@link StatsLine}s of the guest driver's
 * TSC-timed loop and what the device's {@link VgpuStats} remembers of exactly the same requests (its totals at the
 * lines' requests, {@link VgpuStats#completion}). Guest cycles become ns at the TSC rate that two kicks give, timed
 * by the guest before each and by the device when it took the request.
 *
 * <p>A request's latency (guest submit to completion seen by the guest) is, on one timeline, kick → taken off the
 * ring by the device (the notify's VM exit), taken → started (queued: the scheduler's wake-up), started → finished
 * (the engine: the kernel's device time plus the engine path around it), finished → on the used ring (delivery),
 * on the used ring → seen by the guest. The host times the middle three; the guest times the whole; the first and
 * last together are the rest ({@link #exitAndSeenNanos}), which cannot be negative beyond the calibration's error.
 * The cycle adds the guest's turnaround (reading the completion, building and posting the next request). All
 * figures are means per request, ns. Immutable.
 *
 * @param requests      requests between the lines (the guest's count)
 * @param hostRequests  the device's count of completions between the same two requests
 * @param hostErrors    of them, those with an error status
 * @param seconds       host time between the two kicks
 * @param tscGhz        the guest's TSC rate, cycles per ns
 * @param latencyNanos  guest submit (before the kick) to the completion seen on the used ring
 * @param turnNanos     completion seen to the next kick
 * @param notifyNanos   the kick itself, the notify's VM exit there and back (part of the latency; overlaps queued)
 * @param deviceNanos   the engine's device time of the kernel
 * @param enginePathNanos started to finished on the engine, beyond the device time
 * @param queuedNanos   taken off the ring to started on the engine
 * @param deliverNanos  finished to on the used ring, with its interrupt when wanted
 * @param exitAndSeenNanos kick to taken plus on the used ring to seen: the latency less the host's stages
 */
public record Breakdown(long requests, long hostRequests, long hostErrors, double seconds, double tscGhz,
                        double latencyNanos, double turnNanos, double notifyNanos, double deviceNanos,
                        double enginePathNanos, double queuedNanos, double deliverNanos, double exitAndSeenNanos) {

    /**
     * The breakdown between {@code from} and {@code to}, whose {@link StatsLine#host()} is the device's statistics
     * since {@code from} arrived.
     *
     * @throws IllegalArgumentException when no request completed between them or the guest's clock did not advance
     */
    public static Breakdown of(StatsLine from, StatsLine to) {
        long n = to.completed() - from.completed();
        long tsc = to.kickTsc() - from.kickTsc();
        if (n <= 0 || tsc <= 0) {
            throw new IllegalArgumentException("no requests between the guest's stats lines (" + from + " to " + to
                    + ")");
        }
        if (from.kick() == null || to.kick() == null || from.seen() == null || to.seen() == null) {
            throw new IllegalArgumentException("the device no longer remembers the requests the guest's stats lines"
                    + " name (" + from + " to " + to + ")");
        }
        VgpuStats.Completion a = from.seen(), b = to.seen();
        if (b.index() - a.index() != n) {
            throw new IllegalArgumentException("the device completed " + (b.index() - a.index()) + " requests where"
                    + " the guest saw " + n);
        }
        long dt = to.kick().takenNanos() - from.kick().takenNanos();
        if (dt <= 0) {
            throw new IllegalArgumentException("the device took the lines' kicks " + dt + " ns apart");
        }
        // Both clocks at the same two events, the kicks the device took within their VM exits: the TSC's rate
        // within the exits' jitter over the whole interval.
        double ghz = (double) tsc / dt;
        double perRequest = ghz * n; // cycles per ns times requests: cycles → ns per request
        double latency = ((to.kicked() - from.kicked()) + (to.waited() - from.waited())) / perRequest;
        double turn = (to.turn() - from.turn()) / perRequest;
        double notify = (to.kicked() - from.kicked()) / perRequest;
        double device = (double) (b.gpuNanos() - a.gpuNanos()) / n;
        double queued = (double) (b.queuedNanos() - a.queuedNanos()) / n;
        double engine = (double) (b.engineNanos() - a.engineNanos()) / n;
        double deliver = (double) (b.deliverNanos() - a.deliverNanos()) / n;
        return new Breakdown(n, b.index() - a.index(), b.errors() - a.errors(), dt / 1e9, ghz, latency, turn, notify,
                device, engine - device, queued, deliver, latency - queued - engine - deliver);
    }

    /** @return guest submit to the next submit: the latency plus the turnaround */
    public double cycleNanos() {
        return latencyNanos + turnNanos;
    }

    /** @return the per-request overhead of the virtual path: the latency less the kernel's device time */
    public double overheadNanos() {
        return latencyNanos - deviceNanos;
    }

    /** @return requests per second at depth 1, the lines' printing left out */
    public double rate() {
        return 1e9 / cycleNanos();
    }

    /** Prints the breakdown as the command does: one figure a line, µs, with its share of the latency. */
    public void print(PrintWriter out) {
        out.printf(Locale.ROOT, "breakdown: depth 1, %d requests over %.3f s (the device counted %d, %d errors),"
                + " guest TSC %.4f GHz%n", requests, seconds, hostRequests, hostErrors, tscGhz);
        line(out, "latency (guest submit to completion seen)", latencyNanos);
        line(out, "  device time (the kernel on the engine)", deviceNanos);
        line(out, "  engine path beyond device time", enginePathNanos);
        line(out, "  queued (taken off the ring to started)", queuedNanos);
        line(out, "  delivery (finished to on the used ring)", deliverNanos);
        line(out, "  notify exit to taken + used ring to seen", exitAndSeenNanos);
        line(out, "overhead (latency - device time)", overheadNanos());
        line(out, "guest turnaround (seen to next submit)", turnNanos);
        line(out, "cycle (latency + turnaround)", cycleNanos());
        line(out, "notify exit round trip (in the latency)", notifyNanos);
        out.printf(Locale.ROOT, "breakdown: depth-1 throughput %.1f requests/s%n", rate());
        out.flush();
    }

    private void line(PrintWriter out, String what, double nanos) {
        out.printf(Locale.ROOT, "breakdown: %-44s %12.2f us %7.2f %%%n", what, nanos / 1e3, 100 * nanos / latencyNanos);
    }
}
