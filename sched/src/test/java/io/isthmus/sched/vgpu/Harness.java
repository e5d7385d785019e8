package io.isthmus.sched.vgpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.isthmus.sched.Policy;
import io.isthmus.sched.SchedulerConfig;
import io.isthmus.sched.VGpuConfig;
import io.isthmus.sched.engine.DeviceEngine;
import io.isthmus.sched.engine.GuestRam;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;

/** A vGPU host driven on the test's thread: open tenants with their own RAM, submit, step until everything is back. */
final class Harness implements AutoCloseable {
    final Arena arena = Arena.ofShared();
    final VgpuHost host;
    final ArrayDeque<VgpuRequest> done = new ArrayDeque<>();
    int inFlight;

    Harness(DeviceEngine engine) {
        host = new VgpuHost(SchedulerConfig.of(Policy.WEIGHTED, 16), engine);
    }

    /** A tenant: a vGPU of {@code weight} with {@code memory} bytes of device memory and {@code ramBytes} of RAM. */
    final class Tenant {
        final MemorySegment ram;
        final VgpuContext ctx;

        Tenant(int weight, long memory, long ramBytes) {
            ram = arena.allocate(ramBytes, 4096);
            ctx = host.open(VGpuConfig.weighted(weight), memory, GuestRam.of(ram), r -> {
                inFlight--;
                done.add(r);
            });
        }

        /** Submits and runs {@code r} alone; @return its status */
        int run(VgpuRequest r) {
            assertEquals(VgpuStatus.OK, ctx.submit(r), "submit " + r);
            inFlight++;
            drain();
            return r.status();
        }

        long alloc(long bytes) {
            VgpuRequest r = new VgpuRequest().alloc(bytes);
            assertEquals(VgpuStatus.OK, run(r), "alloc " + bytes);
            return r.result();
        }
    }

    Tenant tenant(int weight, long memory, long ramBytes) {
        return new Tenant(weight, memory, ramBytes);
    }

    void drain() {
        while (inFlight > 0) {
            host.scheduler().step(host.engine().now() + 1_000_000);
        }
    }

    @Override
    public void close() {
        host.close();
        arena.close();
    }
}
