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
import org.junit.jupiter.api.Test;

/**
 * A hostile tenant that closes and reopens its vGPU again and again (a guest resetting its device in a loop), between
 * bursts of work, beside two backlogged tenants of weights 1 and 3 on one (simulated, exact) engine: the pair keeps its
 * 1:3 split, and together at least what weights 1 + 3 against 4 promise.
 */
class HostileChurnTest {

    private static final class Backlogged {
        final VgpuContext ctx;
        long engineNanos;

        Backlogged(VgpuHost host, int weight, GuestRam ram, long micros) {
            ctx = host.open(VGpuConfig.weighted(weight), 1 << 20, ram, r -> {
                engineNanos += r.completedNanos() - r.startedNanos();
                ctx().submit(r.launch(Kernel.SPIN, micros, 0, 0, 0));
            });
            for (int i = 0; i < 64; i++) {
                ctx.submit(new VgpuRequest().launch(Kernel.SPIN, micros, 0, 0, 0));
            }
        }

        VgpuContext ctx() {
            return ctx;
        }
    }

    @Test
    void aTenantReopeningItsVgpuInALoopMovesNeitherTheSplitNorThePromise() {
        try (Arena arena = Arena.ofConfined();
                VgpuHost host = new VgpuHost(SchedulerConfig.of(Policy.WEIGHTED, 8), new SimulatedEngine(25_000))) {
            GuestRam ram = GuestRam.of(arena.allocate(1 << 16));
            Backlogged light = new Backlogged(host, 1, ram, 10_000), heavy = new Backlogged(host, 3, ram, 10_000);
            long[] hostileNanos = {0};
            VgpuRequest[] burst = new VgpuRequest[64];
            for (int i = 0; i < burst.length; i++) {
                burst[i] = new VgpuRequest();
            }
            VgpuContext hostile = null;
            long t = 0;
            for (int round = 0; round < 1000; round++) {
                if (hostile != null) {
                    hostile.close(); // the device reset: queued requests handed back
                }
                hostile = host.open(VGpuConfig.weighted(4), 4 << 20, ram, r -> hostileNanos[0] +=
                        r.status() == VgpuStatus.CLOSED ? 0 : r.completedNanos() - r.startedNanos());
                int n = round % 4 == 3 ? 64 : 2; // every 4th round a burst of 1 ms kernels, else set-up requests
                for (int i = 0; i < n; i++) {
                    hostile.submit(n == 2 ? burst[i].alloc(16384) : burst[i].launch(Kernel.SPIN, 1000, 0, 0, 0));
                }
                t += round % 4 == 3 ? 40_000_000L : 5_000_000L;
                host.runUntil(t);
            }
            double split = (double) light.engineNanos / (light.engineNanos + heavy.engineNanos);
            double pair = (double) (light.engineNanos + heavy.engineNanos)
                    / (light.engineNanos + heavy.engineNanos + hostileNanos[0]);
            System.out.printf("churn: split %.4f, pair %.4f of %.3f s%n", split, pair, t / 1e9);
            assertEquals(0.25, split, 0.005, "weight 1's share of the pair");
            assertTrue(pair >= 0.5, "the pair got " + pair + " of the engine; weights 1 + 3 against 4 promise 0.5");
        }
    }
}
