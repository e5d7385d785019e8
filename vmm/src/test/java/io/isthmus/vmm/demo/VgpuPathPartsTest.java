package io.isthmus.vmm.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.isthmus.sched.ConfigurationException;
import io.isthmus.sched.engine.Kernel;
import io.isthmus.sched.run.Launch;
import io.isthmus.vmm.vgpu.VgpuStats;
import picocli.CommandLine;

/** The parts of {@code demo vgpu-path} that need no KVM: the workload's two forms, the guest's lines, the breakdown. */
class VgpuPathPartsTest {

    @Test
    void theGuestAndTheDirectRunGetTheSameKernels() {
        GuestWorkload w = GuestWorkload.parse("spin:1ms,saxpy:4K,copy:16K,matmul:64", 4);
        assertEquals(List.of(new Launch(Kernel.SPIN, 1000), new Launch(Kernel.SAXPY, 4096),
                new Launch(Kernel.COPY, 16384), new Launch(Kernel.MATMUL, 64)), w.launches());
        assertEquals("requests=500 depth=4 mix=spin:1000,saxpy:4096,copy:16384,matmul:64", w.append(500, 0));
        assertEquals("requests=9 depth=4 mix=spin:1000,saxpy:4096,copy:16384,matmul:64 stats=3", w.append(9, 3));
        assertEquals("spin:1000us,saxpy:4096,copy:16384,matmul:64", w.kernels());
        assertEquals("requests=5 depth=4 mix=spin:1000,saxpy:4096,copy:16384,matmul:64 wait=irq",
                w.append(5, 0, true));
        assertEquals("requests=5 depth=4 mix=spin:1000,saxpy:4096,copy:16384,matmul:64 stats=7 wait=irq",
                w.append(5, 7, true));
        assertEquals("requests=1 depth=1 mix=spin:100", GuestWorkload.parse("spin:100us", 1).append(1, 0));
    }

    @Test
    void whatTheGuestCannotRunIsRefusedWithItsLimit() {
        assertTrue(assertThrows(ConfigurationException.class, () -> GuestWorkload.parse("saxpy:4097", 1))
                .getMessage().contains("16 KiB"));
        assertThrows(ConfigurationException.class, () -> GuestWorkload.parse("copy:16385", 1));
        assertThrows(ConfigurationException.class, () -> GuestWorkload.parse("matmul:65", 1));
        assertThrows(ConfigurationException.class, () -> GuestWorkload.parse("spin:500ns", 1));
        assertThrows(ConfigurationException.class, () -> GuestWorkload.parse("spin:1ms,".repeat(9), 1));
        assertTrue(assertThrows(ConfigurationException.class, () -> GuestWorkload.parse("spin:1ms", 65))
                .getMessage().contains("1 to 64"));
        assertThrows(ConfigurationException.class, () -> GuestWorkload.parse("spin:1ms", 0));
        assertThrows(ConfigurationException.class, () -> GuestWorkload.parse("bogus:1", 1));
    }

    @Test
    void theCommandRefusesBadOptionsBeforeItBootsAnything() {
        for (String[] args : List.of(new String[] {"--kernel", "matmul:128"}, new String[] {"--engine", "tpu"},
                new String[] {"--rounds", "0"}, new String[] {"--duration", "10ms"}, new String[] {"--depth", "0"},
                new String[] {"--wait", "sometimes"})) {
            StringWriter err = new StringWriter();
            int status = new CommandLine(new VgpuPathCommand()).setOut(new PrintWriter(new StringWriter()))
                    .setErr(new PrintWriter(err)).execute(args);
            assertEquals(2, status, String.join(" ", args));
            assertTrue(err.toString().startsWith("isthmus demo vgpu-path: "), err.toString());
        }
    }

    @Test
    void statsLinesParseAndBadOnesAreNamed() {
        VgpuStats.Completion k = new VgpuStats.Completion(3, 4, 0, 0, 0, 0, 0), c = new VgpuStats.Completion(2, 0, 0,
                0, 0, 0, 0);
        String text = "vgpu: stats n=7 posted=8 kick=99 tsc=18446744073709551615 notify=1 wait=2 turn=3 print=4";
        StatsLine l = StatsLine.parse(text, 5, k, c);
        assertEquals(new StatsLine(5, 7, 8, 99, -1L, 1, 2, 3, 4, k, c), l);
        assertEquals(10, l.accounted());
        assertEquals(8, StatsLine.field(text, "posted"));
        assertEquals(7, StatsLine.field(text, "n"));
        assertEquals(-1, StatsLine.field("vgpu: ok posted=3", "posted"));
        assertNull(StatsLine.parse("vgpu: ok", 0, k, c));
        assertThrows(IllegalArgumentException.class, () -> StatsLine.parse("vgpu: stats n=1 tsc=2", 0, k, c));
        assertThrows(IllegalArgumentException.class, () -> StatsLine.parse(
                "vgpu: stats n=1 posted=1 kick=1 tsc=2 notify=x wait=2 turn=3 print=4", 0, k, c));
        assertThrows(IllegalArgumentException.class, () -> StatsLine.parse(
                "vgpu: stats n=1 posted=1 kick=1 tsc=2 exit=1 wait=2 turn=3 print=4", 0, k, c));
    }

    @Test
    void theDeviceRemembersItsLatestCompletionsWithTheirTotals() {
        VgpuStats st = new VgpuStats();
        assertNull(st.completion(0));
        for (long i = 0; i < 10_000; i++) {
            st.completed(i % 100 != 7, 10, 1_000 + i, 1_003 + i, 1_013 + i, 1_014 + i);
        }
        assertEquals(new VgpuStats.Completion(9_999, 10_999, 100, 100_000, 30_000, 100_000, 10_000),
                st.completion(9_999));
        VgpuStats.Completion a = st.completion(10_000 - VgpuStats.HISTORY / 2);
        assertEquals(new VgpuStats.Completion(a.index(), 1_000 + a.index(), a.index() / 100 + 1, 10 * (a.index() + 1),
                3 * (a.index() + 1), 10 * (a.index() + 1), a.index() + 1), a);
        assertNull(st.completion(10_000 - VgpuStats.HISTORY / 2 - 1), "forgotten");
        assertNull(st.completion(10_000), "not completed yet");
        assertNull(st.completion(-1));
        assertEquals(10_000, st.snapshot().requests(), "the totals as before");
        assertEquals(100, st.snapshot().errors());
    }

    @Test
    void serialLinesArriveWholeWithoutCarriageReturns() throws Exception {
        List<String> got = new ArrayList<>();
        SerialLines lines = new SerialLines((line, at) -> got.add(line + "@" + (at > 0)));
        byte[] first = "vgpu: found\r\nvgpu: st--".getBytes(StandardCharsets.ISO_8859_1);
        lines.write(first, 0, first.length - 2);
        lines.write("ats n=1\r\n".getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(List.of("vgpu: found@true", "vgpu: stats n=1@true"), got);
        lines.write('x');
        assertEquals("vgpu: found\nvgpu: stats n=1\nx", lines.tail());
    }

    @Test
    void theBreakdownPutsTheHostsStagesInsideTheGuestsLatency() {
        // 1,000 requests over 2 s at 2.5 cycles/ns (the kicks 5e9 cycles and 2 s apart; the lines arrived later). Per request: kick 40 us, wait 1,460 us (the
        // latency 1,500 us), turnaround 100 us, and 400 us of lines printed in all; the host saw 1,000 completions,
        // each 1,000 us of device time, 1,010 us on the engine, 50 us queued and 20 us delivering.
        double c = 2.5e3; // cycles per us
        StatsLine a = new StatsLine(7_000_000_000L, 100, 100, 10_000, 20_000, 5, 6, 7, 8,
                new VgpuStats.Completion(108, 1_000_000_000L, 3, 0, 0, 0, 0),
                new VgpuStats.Completion(108, 1_000_000_000L, 3, 500, 600, 700, 800));
        StatsLine b = new StatsLine(9_500_000_000L, 1100, 1100, 10_000 + 5_000_000_000L, 20_000 + 5_000_001_000L,
                5 + (long) (40 * c * 1000), 6 + (long) (1460 * c * 1000), 7 + (long) (100 * c * 1000),
                8 + (long) (400 * c), new VgpuStats.Completion(1108, 3_000_000_000L, 0, 0, 0, 0, 0),
                new VgpuStats.Completion(1108, 3_000_000_000L, 3, 500 + 1_000_000_000L, 600 + 50_000_000L,
                        700 + 1_010_000_000L, 800 + 20_000_000L));
        Breakdown k = Breakdown.of(a, b);
        assertEquals(2.5, k.tscGhz(), 1e-12);
        assertEquals(1000, k.requests());
        assertEquals(1_500_000, k.latencyNanos(), 1e-6);
        assertEquals(40_000, k.notifyNanos(), 1e-6);
        assertEquals(100_000, k.turnNanos(), 1e-6);
        assertEquals(1_000_000, k.deviceNanos(), 1e-6);
        assertEquals(10_000, k.enginePathNanos(), 1e-6);
        assertEquals(1_500_000 - 50_000 - 1_010_000 - 20_000, k.exitAndSeenNanos(), 1e-6);
        assertEquals(500_000, k.overheadNanos(), 1e-6);
        assertEquals(1e9 / 1_600_000, k.rate(), 1e-9);
        StringWriter out = new StringWriter();
        k.print(new PrintWriter(out));
        assertTrue(out.toString().matches("(?s).*\nbreakdown: overhead \\(latency - device time\\) +500\\.00 us +33\\.33 %\n.*"),
                out.toString());
        assertEquals(2.0, k.seconds(), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Breakdown.of(a, a));
        StatsLine unknown = new StatsLine(b.arrivedNanos(), b.completed(), b.posted(), b.kickTsc(), b.tsc(), b.kicked(),
                b.waited(), b.turn(), b.print(), null, b.seen());
        assertThrows(IllegalArgumentException.class, () -> Breakdown.of(a, unknown));
        StatsLine lost = new StatsLine(b.arrivedNanos(), b.completed(), b.posted(), b.kickTsc(), b.tsc(), b.kicked(),
                b.waited(), b.turn(), b.print(), b.kick(), new VgpuStats.Completion(1107, 0, 3, 0, 0, 0, 0));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Breakdown.of(a, lost)).getMessage()
                .contains("the device completed 999 requests where the guest saw 1000"));
    }
}
