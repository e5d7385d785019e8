package io.isthmus.vmm.demo;

import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

import io.isthmus.sched.ConfigurationException;
import io.isthmus.sched.engine.Kernel;
import io.isthmus.sched.run.Launch;

/**
 * What the vGPU guest driver ({@code vgpu.elf}) runs, in both of its forms: the guest's command line
 * ({@code requests=N depth=D mix=...}) and the same launches as {@link Launch}es for
 * {@link io.isthmus.sched.run.DirectRun}, so both sides of a comparison run the same kernels with the same sizes. The
 * units agree (spin µs, saxpy elements, copy bytes, matmul n); the guest's limits are checked here: its buffers are
 * 16 KiB (saxpy at most 4,096 elements, copy 16,384 bytes, matmul n 64) and its mix holds 8 kernels. Immutable.
 *
 * @param launches the kernels, taken round robin
 * @param depth    requests the guest keeps in flight, 1 to 64 (its queue holds 128 descriptors, two a request)
 */
public record GuestWorkload(List<Launch> launches, int depth) {
    /** The most kernels the guest's mix holds. */
    public static final int MAX_KERNELS = 8;
    /** The most requests the guest keeps in flight. */
    public static final int MAX_DEPTH = 64;
    /** Requests the driver completes before its measured loop: 7 allocations and 2 copies in. */
    public static final int SETUP_REQUESTS = 9;
    /** The guest's buffer size, bytes. */
    public static final long BUFFER_BYTES = 16 * 1024;

    /** @throws ConfigurationException when the guest cannot run it, saying what it can */
    public GuestWorkload {
        launches = List.copyOf(launches);
        if (launches.isEmpty() || launches.size() > MAX_KERNELS) {
            throw new ConfigurationException("--kernel names " + launches.size() + " kernels; the guest driver takes"
                    + " 1 to " + MAX_KERNELS);
        }
        if (depth < 1 || depth > MAX_DEPTH) {
            throw new ConfigurationException("--depth " + depth + " is out of range; use 1 to " + MAX_DEPTH
                    + " (the guest's queue holds 128 descriptors, two a request)");
        }
        for (Launch l : launches) {
            if (l.bufferBytes() > BUFFER_BYTES) {
                throw new ConfigurationException("--kernel " + l + " needs " + l.bufferBytes() + "-byte buffers; the"
                        + " guest driver's are 16 KiB (saxpy at most 4096 elements, copy 16384 bytes, matmul 64)");
            }
            if (l.kernel() == Kernel.SPIN && l.size() == 0) {
                throw new ConfigurationException("--kernel " + l + ": spin for at least 1us (the guest counts µs)");
            }
        }
    }

    /** Parses {@code --kernel}'s list ({@link Launch#parseList}) for {@code depth} requests in flight. */
    public static GuestWorkload parse(String kernels, int depth) {
        return new GuestWorkload(Launch.parseList(kernels), depth);
    }

    /**
     * The guest's command line: {@code requests} requests in the measured loop and, when {@code statsEvery} is
     * positive, the TSC-timed loop printing its totals every {@code statsEvery} completions.
     */
    public String append(long requests, long statsEvery) {
        return append(requests, statsEvery, false);
    }

    /**
     * As {@link #append(long, long)}; with {@code interrupts}, the driver waits for completions halted until its
     * device's interrupt ({@code wait=irq}) instead of polling the used ring.
     */
    public String append(long requests, long statsEvery, boolean interrupts) {
        if (requests < 1) {
            throw new IllegalArgumentException("requests " + requests);
        }
        String mix = launches.stream().map(l -> l.kernel().name().toLowerCase(Locale.ROOT) + ":" + l.size())
                .collect(Collectors.joining(","));
        return "requests=" + requests + " depth=" + depth + " mix=" + mix + (statsEvery > 0 ? " stats=" + statsEvery
                : "") + (interrupts ? " wait=irq" : "");
    }

    /** @return the launches as {@code --kernel} writes them, e.g. {@code spin:1000us,matmul:64} */
    public String kernels() {
        return launches.stream().map(Launch::toString).collect(Collectors.joining(","));
    }
}
