package io.isthmus.sched.vgpu;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.isthmus.sched.FuzzCoverage;
import io.isthmus.sched.engine.HostEngine;
import io.isthmus.sched.engine.Kernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * vGPU requests as a guest writes them: 64-byte records from the fuzzer's bytes, read with {@link VgpuWire} and run
 * on the host engine for a hostile vGPU beside a victim vGPU. Opcodes, kernel ids and handles are steered towards
 * plausible values part of the time (the vGPU's own live handles, the victim's, offsets near the ends) so that the
 * checks behind the first ones are reached. Every request must complete with one of {@link VgpuStatus}'s codes
 * (nothing thrown), and neither the victim's RAM nor its device memory may change. Corpus:
 * {@code src/test/resources/io/isthmus/sched/vgpu/VgpuFuzzTestInputs/requests/}.
 */
@ExtendWith(FuzzCoverage.class)
class VgpuFuzzTest {
    static final long MEM = 64 * 1024, RAM = 64 * 1024;
    static final int MAX_REQUESTS = 64;
    /** Spins longer than this are shortened: valid, but they would only make the fuzzer slow. */
    static final long SPIN_MICROS = 100;

    @FuzzTest
    void requests(FuzzedDataProvider d) {
        try (Harness h = new Harness(new HostEngine()); Arena arena = Arena.ofConfined()) {
            Harness.Tenant victim = h.tenant(1, MEM, RAM), evil = h.tenant(1, MEM, RAM);
            victim.ram.fill((byte) 0x5A);
            long secret = victim.alloc(4096);
            check(VgpuStatus.OK, victim.run(new VgpuRequest().copyIn(0, secret, 0, 4096)), "the victim's copy-in");
            long[] handles = {evil.alloc(4096), evil.alloc(256), secret, 0};
            MemorySegment wire = arena.allocate(VgpuWire.REQUEST_BYTES);
            for (int n = 0; n < MAX_REQUESTS && d.remainingBytes() > 0; n++) {
                wire.fill((byte) 0);
                byte[] raw = d.consumeBytes(VgpuWire.REQUEST_BYTES);
                MemorySegment.copy(MemorySegment.ofArray(raw), 0, wire, 0, raw.length);
                if (d.consumeBoolean()) {
                    wire.set(ValueLayout.JAVA_INT_UNALIGNED, VgpuWire.OP, d.consumeInt(0, VgpuOp.FENCE + 1));
                    wire.set(ValueLayout.JAVA_INT_UNALIGNED, VgpuWire.KERNEL, d.consumeInt(0, 5));
                }
                for (int w = 0; w < 6; w++) {
                    if (d.consumeInt(0, 3) == 0) {
                        long handle = handles[d.consumeInt(0, handles.length - 1)];
                        wire.set(ValueLayout.JAVA_LONG_UNALIGNED, VgpuWire.WORDS + 8L * w,
                                handle + d.consumeInt(-2, 2));
                    }
                }
                VgpuRequest r = VgpuWire.readRequest(wire, 0, new VgpuRequest());
                if (r.op() == VgpuOp.LAUNCH && r.kernel() == 1 && r.word(0) > SPIN_MICROS
                        && r.word(0) <= Kernel.MAX_SPIN_MICROS) {
                    r.set(r.op(), r.kernel(), r.tag(), SPIN_MICROS, r.word(1), r.word(2), r.word(3), r.word(4),
                            r.word(5));
                }
                int submitted = evil.ctx.submit(r);
                if (submitted == VgpuStatus.OK) {
                    h.inFlight++;
                    h.drain();
                }
                int status = r.status();
                if (status < VgpuStatus.OK || status > VgpuStatus.DEVICE_ERROR) {
                    throw new AssertionError("status " + status + " for " + r);
                }
                if (r.op() == VgpuOp.ALLOC && status == VgpuStatus.OK) {
                    handles[3] = r.result();
                }
            }
            for (long i = 0; i < RAM; i++) {
                if (victim.ram.get(ValueLayout.JAVA_BYTE, i) != 0x5A) {
                    throw new AssertionError("the victim's RAM changed at " + i);
                }
            }
            victim.ram.fill((byte) 0);
            check(VgpuStatus.OK, victim.run(new VgpuRequest().copyOut(0, secret, 0, 4096)), "the victim's copy-out");
            for (long i = 0; i < 4096; i++) {
                if (victim.ram.get(ValueLayout.JAVA_BYTE, i) != 0x5A) {
                    throw new AssertionError("the victim's device memory changed at " + i);
                }
            }
        }
    }

    private static void check(int expected, int status, String what) {
        if (status != expected) {
            throw new AssertionError(what + ": " + VgpuStatus.name(status));
        }
    }
}
