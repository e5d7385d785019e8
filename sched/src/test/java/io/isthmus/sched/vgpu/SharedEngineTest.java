package io.isthmus.sched.vgpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.sched.Policy;
import io.isthmus.sched.SchedulerConfig;
import io.isthmus.sched.VGpuConfig;
import io.isthmus.sched.engine.GuestRam;
import io.isthmus.sched.engine.Kernel;
import io.isthmus.sched.engine.SimulatedEngine;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/**
 * vGPUs sharing one (simulated, so exact and repeatable) engine through the request path: shares follow the weights
 * while a hostile tenant floods bad requests and gets only errors; a capped vGPU stays under its cap; the submission
 * and completion path allocates nothing.
 */
class SharedEngineTest {
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** A closed-loop tenant: resubmits each request as it completes, with launches or a hostile pattern. */
    private static final class Loop {
        final VgpuContext ctx;
        final boolean hostile;
        long engineNanos, ok, errors, n;

        Loop(VgpuHost host, VGpuConfig cfg, MemorySegment ram, boolean hostile, int depth) {
            this.hostile = hostile;
            ctx = host.open(cfg, 1 << 20, GuestRam.of(ram), this::done);
            for (int i = 0; i < depth; i++) {
                next(new VgpuRequest());
            }
        }

        void done(VgpuRequest r) {
            engineNanos += r.completedNanos() - r.startedNanos();
            if (r.status() == VgpuStatus.OK) {
                ok++;
            } else {
                errors++;
            }
            next(r);
        }

        void next(VgpuRequest r) {
            n++;
            if (!hostile) {
                r.launch(Kernel.SPIN, 50, 0, 0, 0);
            } else {
                switch ((int) (n % 4)) {
                    case 0 -> r.copyIn(0, 0x1234_5678_9abcL, 0, 4096);      // a forged handle
                    case 1 -> r.alloc(1L << 40);                             // beyond the quota
                    case 2 -> r.set(VgpuOp.LAUNCH, 42, 0, 0, 0, 0, 0, 0, 0); // no such kernel
                    default -> r.copyOut(-4096, 1, 0, 16);                   // outside guest RAM
                }
            }
            ctx.submit(r);
        }
    }

    @Test
    void sharesFollowWeightsWhileAHostileTenantGetsOnlyErrors() {
        try (Arena arena = Arena.ofConfined();
                VgpuHost host = new VgpuHost(SchedulerConfig.of(Policy.WEIGHTED, 8), new SimulatedEngine(25_000))) {
            MemorySegment ram = arena.allocate(1 << 16);
            Loop[] good = new Loop[3];
            for (int i = 0; i < 3; i++) {
                good[i] = new Loop(host, VGpuConfig.weighted(i + 1), ram, false, 8);
            }
            Loop evil = new Loop(host, VGpuConfig.weighted(4), ram, true, 200);
            host.runUntil(5_000_000_000L);
            assertEquals(0, evil.ok, "no hostile request succeeds");
            assertTrue(evil.errors > 100_000, "the flood was served (with errors): " + evil.errors);
            long total = 0;
            for (Loop l : good) {
                assertEquals(0, l.errors);
                total += l.engineNanos;
            }
            for (int i = 0; i < 3; i++) {
                double share = (double) good[i].engineNanos / total, target = (i + 1) / 6.0;
                assertEquals(target, share, 0.02 * target, "tenant " + i + "'s share among the well-behaved");
            }
            double evilShare = (double) evil.engineNanos / (total + evil.engineNanos);
            assertTrue(evilShare <= 0.4 * 1.02, "the flood gets at most its weight's share: " + evilShare);
        }
    }

    @Test
    void aCappedVgpuNeverExceedsItsCap() {
        try (Arena arena = Arena.ofConfined();
                VgpuHost host = new VgpuHost(SchedulerConfig.of(Policy.WEIGHTED, 8), new SimulatedEngine(25_000))) {
            MemorySegment ram = arena.allocate(1 << 16);
            Loop capped = new Loop(host, VGpuConfig.weighted(4).withCap(0.2), ram, false, 8);
            Loop other = new Loop(host, VGpuConfig.weighted(1), ram, false, 8);
            host.runUntil(5_000_000_000L);
            double share = (double) capped.engineNanos / (capped.engineNanos + other.engineNanos);
            assertTrue(share <= 0.2 * 1.01 && share > 0.19, "capped at 20 %: " + share);
        }
    }

    @Test
    void submittingAndCompletingAllocateNothing() {
        try (Arena arena = Arena.ofConfined();
                VgpuHost host = new VgpuHost(SchedulerConfig.of(Policy.WEIGHTED, 8), new SimulatedEngine(25_000))) {
            MemorySegment ram = arena.allocate(1 << 16);
            Loop a = new Loop(host, VGpuConfig.weighted(1), ram, false, 8);
            Loop b = new Loop(host, VGpuConfig.weighted(2), ram, true, 8);
            host.runUntil(3_000_000_000L); // warm up: the JIT compiles the path
            long n0 = a.n + b.n;
            long before = THREADS.getCurrentThreadAllocatedBytes();
            host.runUntil(4_000_000_000L);
            long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
            long requests = a.n + b.n - n0;
            assertTrue(requests > 100_000, "requests " + requests);
            assertEquals(0, allocated, allocated + " bytes over " + requests + " requests");
        }
    }

    @Test
    void aCompletionThatThrowsFailsItsVgpuAloneAndTheSchedulerGoesOn() {
        try (Arena arena = Arena.ofConfined();
                VgpuHost host = new VgpuHost(SchedulerConfig.of(Policy.WEIGHTED, 8), new SimulatedEngine(25_000))) {
            MemorySegment ram = arena.allocate(1 << 16);
            Loop good = new Loop(host, VGpuConfig.weighted(1), ram, false, 4);
            int[] calls = {0};
            VgpuContext bad = host.open(VGpuConfig.weighted(1), 1 << 20, GuestRam.of(ram), r -> {
                calls[0]++;
                throw new IllegalStateException("a device bug");
            });
            for (int i = 0; i < 4; i++) {
                assertEquals(VgpuStatus.OK, bad.submit(new VgpuRequest().launch(Kernel.SPIN, 50, 0, 0, 0)));
            }
            host.runUntil(100_000_000L);
            assertEquals(1, calls[0], "after its first failure the vGPU's completions are dropped");
            assertTrue(bad.failed());
            assertEquals(VgpuStatus.CLOSED, bad.submit(new VgpuRequest().fence()), "a failed vGPU refuses requests");
            long before = good.ok;
            host.runUntil(200_000_000L);
            assertTrue(good.ok > before + 100, "the other vGPU goes on: " + before + " -> " + good.ok);
            bad.close(); // leaves the scheduler and frees its memory as any close does
            assertEquals(1, host.scheduler().joinedCount());
        }
    }
}
