package io.isthmus.sched.vgpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.sched.engine.HostEngine;
import io.isthmus.sched.engine.Kernel;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * Every guest value is checked on every request: bad handles (unknown, freed, another vGPU's), device ranges past an
 * allocation, guest ranges outside RAM, quotas, kernel ids and arguments. Each gets its error status, and neither the
 * other vGPU's device memory nor any guest RAM changes.
 */
class RequestValidationTest {
    private static final long MEM = 64 * 1024, RAM = 64 * 1024;

    @Test
    void hostileRequestsGetErrorsAndTouchNothing() {
        try (Harness h = new Harness(new HostEngine())) {
            Harness.Tenant victim = h.tenant(1, MEM, RAM);
            Harness.Tenant evil = h.tenant(1, MEM, RAM);
            // The victim keeps a secret on the device.
            victim.ram.fill((byte) 0x5A);
            long secret = victim.alloc(4096);
            assertEquals(VgpuStatus.OK, victim.run(new VgpuRequest().copyIn(0, secret, 0, 4096)));
            evil.ram.fill((byte) 0);
            long mine = evil.alloc(4096);

            // Another vGPU's handle, as is and with this vGPU's tag: refused either way.
            assertEquals(VgpuStatus.BAD_HANDLE, evil.run(new VgpuRequest().copyOut(0, secret, 0, 4096)));
            long forged = (mine & 0xFFFF_0000_0000_0000L) | (secret & 0x0000_FFFF_FFFF_FFFFL);
            assertNotEquals(VgpuStatus.OK, evil.run(new VgpuRequest().copyOut(0, forged + 1, 0, 4096)));
            assertEquals(VgpuStatus.BAD_HANDLE, evil.run(new VgpuRequest().free(secret)));
            assertEquals(VgpuStatus.BAD_HANDLE, evil.run(new VgpuRequest().launch(Kernel.COPY, 4096, secret, mine, 0)));
            assertEquals(VgpuStatus.BAD_HANDLE, evil.run(new VgpuRequest().copyOut(0, 0, 0, 16)));
            assertEquals(VgpuStatus.BAD_HANDLE, evil.run(new VgpuRequest().copyOut(0, -1, 0, 16)));

            // Device ranges past the allocation, with and without overflow.
            assertEquals(VgpuStatus.OUT_OF_BOUNDS, evil.run(new VgpuRequest().copyOut(0, mine, 1, 4096)));
            assertEquals(VgpuStatus.OUT_OF_BOUNDS, evil.run(new VgpuRequest().copyOut(0, mine, 4097, 0)));
            assertEquals(VgpuStatus.OUT_OF_BOUNDS, evil.run(new VgpuRequest().copyIn(0, mine, 16, Long.MAX_VALUE)));
            assertEquals(VgpuStatus.BAD_ARGUMENT, evil.run(new VgpuRequest().copyIn(0, mine, -16, 32)));
            assertEquals(VgpuStatus.BAD_ARGUMENT, evil.run(new VgpuRequest().copyIn(0, mine, 0, -1)));
            assertEquals(VgpuStatus.OUT_OF_BOUNDS,
                    evil.run(new VgpuRequest().launch(Kernel.SAXPY, 1025, 0, mine, mine)));
            assertEquals(VgpuStatus.OUT_OF_BOUNDS, evil.run(new VgpuRequest().launch(Kernel.COPY, 4097, mine, mine, 0)));

            // Guest ranges outside RAM: past its end, straddling it, below 0, wrapping.
            assertEquals(VgpuStatus.BAD_GUEST_ADDRESS, evil.run(new VgpuRequest().copyOut(RAM, mine, 0, 1)));
            assertEquals(VgpuStatus.BAD_GUEST_ADDRESS, evil.run(new VgpuRequest().copyOut(RAM - 8, mine, 0, 16)));
            assertEquals(VgpuStatus.BAD_GUEST_ADDRESS, evil.run(new VgpuRequest().copyOut(-8, mine, 0, 16)));
            assertEquals(VgpuStatus.BAD_GUEST_ADDRESS,
                    evil.run(new VgpuRequest().copyIn(Long.MAX_VALUE, mine, 0, 4096)));
            assertEquals(VgpuStatus.OK, evil.run(new VgpuRequest().copyOut(RAM - 16, mine, 0, 16)), "the last bytes");

            // Quota: more than the vGPU has, a size that overflows, zero, and filling it up.
            assertEquals(VgpuStatus.OUT_OF_MEMORY, evil.run(new VgpuRequest().alloc(MEM + 1)));
            assertEquals(VgpuStatus.OUT_OF_MEMORY, evil.run(new VgpuRequest().alloc(Long.MAX_VALUE)));
            assertEquals(VgpuStatus.BAD_ARGUMENT, evil.run(new VgpuRequest().alloc(0)));
            int n = 0;
            while (evil.run(new VgpuRequest().alloc(256)) == VgpuStatus.OK) {
                n++;
            }
            assertEquals((MEM - 4096) / 256, n, "allocations up to the quota, then OUT_OF_MEMORY");
            assertEquals(MEM, evil.ctx.memoryUsed());

            // Kernel ids, ops and arguments.
            assertEquals(VgpuStatus.BAD_KERNEL, evil.run(new VgpuRequest().set(VgpuOp.LAUNCH, 99, 0, 0, 0, 0, 0, 0, 0)));
            assertEquals(VgpuStatus.BAD_KERNEL, evil.run(new VgpuRequest().set(VgpuOp.LAUNCH, 0, 0, 0, 0, 0, 0, 0, 0)));
            assertEquals(VgpuStatus.BAD_OP, evil.run(new VgpuRequest().set(77, 0, 0, 0, 0, 0, 0, 0, 0)));
            assertEquals(VgpuStatus.BAD_ARGUMENT, evil.run(new VgpuRequest().launch(Kernel.SPIN, -1, 0, 0, 0)));
            assertEquals(VgpuStatus.BAD_ARGUMENT,
                    evil.run(new VgpuRequest().launch(Kernel.SPIN, Kernel.MAX_SPIN_MICROS + 1, 0, 0, 0)));
            assertEquals(VgpuStatus.BAD_ARGUMENT, evil.run(new VgpuRequest().launch(Kernel.MATMUL, 0, mine, mine, 0)));
            assertEquals(VgpuStatus.BAD_ARGUMENT, evil.run(new VgpuRequest().launch(Kernel.MATMUL, 2048, 1, 2, 3)));
            assertEquals(VgpuStatus.BAD_ARGUMENT, evil.run(new VgpuRequest().launch(Kernel.MATMUL, 4, mine, 1, mine)),
                    "C may not alias A");
            assertEquals(VgpuStatus.BAD_ARGUMENT, evil.run(new VgpuRequest().launch(Kernel.SAXPY, 4, 1L << 32, 1, 1)));

            // Nothing of the victim's changed, and the attacker's RAM never saw its secret.
            assertEquals(VgpuStatus.OK, victim.run(new VgpuRequest().copyOut(8192, secret, 0, 4096)));
            for (int i = 0; i < 4096; i++) {
                assertEquals((byte) 0x5A, victim.ram.get(ValueLayout.JAVA_BYTE, 8192 + i));
            }
            assertEquals(-1, evil.ram.asSlice(0, RAM).mismatch(MemorySegment.ofArray(new byte[(int) RAM])),
                    "the attacker's RAM is still all zeroes");
        }
    }

    @Test
    void aFreedHandleStaysDeadWhenItsSlotIsReused() {
        try (Harness h = new Harness(new HostEngine())) {
            Harness.Tenant t = h.tenant(1, MEM, RAM);
            long a = t.alloc(1024);
            assertEquals(VgpuStatus.OK, t.run(new VgpuRequest().free(a)));
            assertEquals(VgpuStatus.BAD_HANDLE, t.run(new VgpuRequest().free(a)), "double free");
            long b = t.alloc(1024);
            assertEquals(a & 0xFFFFFF, b & 0xFFFFFF, "the slot is reused");
            assertNotEquals(a, b, "with another generation");
            assertEquals(VgpuStatus.BAD_HANDLE, t.run(new VgpuRequest().copyOut(0, a, 0, 16)));
            assertEquals(VgpuStatus.OK, t.run(new VgpuRequest().copyOut(0, b, 0, 16)));
            assertEquals(1, t.ctx.allocations());
        }
    }

    @Test
    void closingHandsQueuedRequestsBackAndRefusesNewOnes() {
        try (Harness h = new Harness(new HostEngine())) {
            Harness.Tenant t = h.tenant(1, MEM, RAM);
            VgpuRequest queued = new VgpuRequest().launch(Kernel.SPIN, 10, 0, 0, 0);
            assertEquals(VgpuStatus.OK, t.ctx.submit(queued));
            t.ctx.close();
            assertEquals(VgpuStatus.CLOSED, queued.status());
            assertEquals(queued, h.done.poll(), "its completion still comes");
            assertEquals(VgpuStatus.CLOSED, t.ctx.submit(new VgpuRequest().fence()));
            assertTrue(h.done.isEmpty());
        }
    }
}
