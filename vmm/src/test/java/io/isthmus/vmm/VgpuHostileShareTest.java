package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import io.isthmus.vmm.machine.HostStdio;
import io.isthmus.vmm.vgpu.VgpuHosts;
import io.isthmus.vmm.vgpu.VgpuStats;

/**
 * A hostile vGPU guest beside two well-behaved ones, three KVM machines in one process sharing one engine, run on the
 * paced simulated engine and on the host engine. The well-behaved pair (weights 1 and 3) is backlogged with 10 ms
 * kernels, 64 deep, and halts for its interrupts; the hostile one (weight 4) runs vgpu.c's {@code attack=} driver,
 * looping over every attack (malformed descriptors, ring indices out of range, the queue turned off and on with kernels
 * in flight, guest addresses outside RAM, other vGPUs' handles, allocations past the quota, notification floods, a
 * backlog whose completions it never reads, an overfilled queue, a 100 ms kernel followed by a device reset to shed
 * what it owes for it) until QMP quits it. Measured over the same 5 s
 * interval, from the scheduler's own accounting (the engine time it charged each vGPU: its requests, errors included;
 * what its shares are reckoned in):
 *
 * <ul>
 *   <li>the pair keeps its 1:3 split within ±2 points, the bound. On the simulated engine a request is
 *       charged its modelled device time, as a GPU reports its own, so the bound is exact whatever the host does. On
 *       the host engine the "GPU" is a host thread and a request is charged its wall time on it, time the host or a
 *       GC pause took that thread away included. The scheduler's promise is a lag of at most one slice plus one
 *       request, so there the bound widens by what the pair's largest request in the interval took beyond its
 *       kernel's 10 ms, printed. (The split once read 0.21 in CI: this test's own GC, just before the interval,
 *       paused a light request for ~100 ms, and the light VM's repayment of it, 300 ms of the heavy one's turns,
 *       fell inside the interval. The GC now comes 3 s before it.);
 *   <li>neither of the pair ran dry (its queue at the scheduler never seen empty): the premise of the split;
 *   <li>the pair gets at least 4/8 of the engine's time (what weights 1 + 3 against 4 promise), less 3 points;
 *   <li>every machine keeps running (the hostile one's device is broken and set up again, the machine never stopped),
 *       and the hostile guest finished attacks after the interval began;
 *   <li>the VMM's memory stays bounded: heap used after a GC and resident memory, before vs after the interval.
 * </ul>
 *
 * <p>Then, once the hostile guest has been through every attack, its own counts say each bad request got its error
 * status and each unanswerable chain broke the device, with nothing unexpected, and its stderr holds the reasons,
 * rate-limited. The pair's share of the interval's wall time is printed, not asserted: on the host engine the interval
 * also holds what the lab's one CPU does besides the engine's thread (the guests' exits, the VMM's other threads),
 * which is no vGPU's engine time.
 */
@Tag("kvm")
class VgpuHostileShareTest {
    private static final long KERNEL_MICROS = 10_000;
    private static final String ATTACKS = "descriptors,ring,addresses,handles,quota,flood,noreap,reset";
    private static final Pattern ROUND = Pattern.compile("attack: round (\\d+)");
    private static final Pattern PROGRESS = Pattern.compile("attack: progress (\\d+)");
    private static final Pattern COUNTS = Pattern.compile(
            "attack (\\w+): sent=(\\d+) errors=(\\d+) broken=(\\d+) ok=(\\d+) unexpected=(\\d+) mcycles=\\d+\n");

    @ParameterizedTest(name = "engine={0}")
    @ValueSource(strings = {"sim", "host"})
    void aHostileGuestNeitherStealsTheSharesNorGrowsTheVmm(String engine) throws Exception {
        long start = System.nanoTime();
        Path dir = TestGuests.scratch();
        String backlog = "requests=100000000 depth=64 mix=spin:" + KERNEL_MICROS + " wait=irq";
        List<Vm> vms = List.of(
                new Vm(dir, "light", backlog, "weight=1,memory=1M,engine=" + engine),
                new Vm(dir, "heavy", backlog, "weight=3,memory=1M,engine=" + engine),
                new Vm(dir, "hostile", "attack=" + ATTACKS, "weight=4,memory=4M,engine=" + engine));
        Vm hostile = vms.get(2);
        VgpuHosts.Lease lease = null;
        try {
            long deadline = System.nanoTime() + 120_000_000_000L;
            while (!pairRunning(engine) || !hostile.out().contains("attack: hostile driver")) {
                assertTrue(System.nanoTime() < deadline, "the guests never all ran: " + VgpuHosts.usage(engine)
                        + "\nhostile: " + hostile.out());
                for (Vm vm : vms) {
                    assertFalse(vm.task.isDone(), vm.name + " ended early: " + vm.out() + vm.err());
                }
                Thread.sleep(100);
            }
            System.out.printf("vgpu hostile: all running after %.1f s%n", (System.nanoTime() - start) / 1e9);
            lease = VgpuHosts.acquire(engine); // the running host: to read its engine's busy time
            long heap0 = heapAfterGc();
            long rss0 = ProcessResources.now().rssKiB();
            // The GC's pause lands in whichever request is on the host engine then, and that vGPU is charged it (a
            // request of the light VM charged 100 ms more starves it until the heavy one has had 300 ms): the
            // scheduler repays it before the interval begins, not in it.
            Thread.sleep(3000);
            int progress0 = last(PROGRESS, hostile.out());
            long busy0 = busy(lease);
            long t0 = System.nanoTime();
            EngineTime time = new EngineTime(engine);
            while (System.nanoTime() - t0 < 5_000_000_000L) {
                Thread.sleep(100);
                time.sample();
            }
            long wall = System.nanoTime() - t0;
            long longest = time.longestRequest(); // the interval's: read as it ends
            long busy = busy(lease) - busy0;
            long heap1 = heapAfterGc();
            long rss1 = ProcessResources.now().rssKiB();
            boolean allRan = vms.stream().noneMatch(vm -> vm.task.isDone());
            // Then until the hostile guest has been through every attack once (for its counts), and through one more
            // since the interval began (it kept attacking).
            // Its counts are the lines after "round N": wait for every attack's, whole (the quit must not cut one).
            while ((last(ROUND, hostile.out()) < 1 || last(PROGRESS, hostile.out()) <= progress0
                    || Arrays.stream(ATTACKS.split(",")).anyMatch(a -> lastCounts(hostile.out(), a) == null))
                    && !hostile.task.isDone() && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            int progress1 = last(PROGRESS, hostile.out());
            System.out.printf("vgpu hostile: its first round done after %.1f s%n", (System.nanoTime() - start) / 1e9);

            // The hostile one's: the rest of the engine's time running requests (its vGPU is a new one after each
            // reset, often on another id, whose slot's totals carry earlier occupants' time).
            long light = time.of(1), heavy = time.of(3), evil = Math.max(0, busy - light - heavy);
            double split = (double) light / (light + heavy), pair = (double) (light + heavy) / (light + heavy + evil);
            // The policy's lag bound is one request: on the host engine, one the host stalled is a longer one.
            long overrun = engine.equals("sim") ? 0 : Math.max(0, longest - KERNEL_MICROS * 1_000);
            double bound = 0.02 + (double) overrun / (light + heavy);
            System.out.printf("vgpu hostile (%s): weight 1 got %.4f of the pair's %.3f s (target 0.25 +- %.4f: the"
                    + " pair's longest request took %.3f ms); the pair got %.4f of the engine's %.3f s (promised 0.5)"
                    + " and %.4f of the %.3f s interval; requests ran %.3f s; hostile attacks %d -> %d; heap %d -> %d"
                    + " KiB, RSS %d -> %d KiB; %s%n", engine, split, (light + heavy) / 1e9, bound,
                    longest / 1e6, pair, (light + heavy + evil) / 1e9, (light + heavy) / (double) wall,
                    wall / 1e9, busy / 1e9, progress0, progress1, heap0 >> 10, heap1 >> 10, rss0, rss1,
                    time.dryness());
            for (Vm vm : vms.subList(0, 2)) {
                // A wait=irq driver's watchdog reports completions no interrupt announced (its first three).
                long lost = vm.out().lines().filter(l -> l.startsWith("vgpu: watchdog:")).count();
                if (lost > 0) {
                    System.out.println("vgpu hostile (" + engine + "): " + vm.name + "'s watchdog: " + vm.out().lines()
                            .filter(l -> l.startsWith("vgpu: watchdog:")).toList());
                }
            }
            assertTrue(allRan, "a machine stopped during the attacks");
            assertTrue(last(ROUND, hostile.out()) >= 1, "the hostile guest never finished a round: " + hostile.out());
            assertTrue(progress1 > progress0, "the hostile guest finished no attack after the interval began: "
                    + hostile.out());
            assertTrue(time.neverDry(), "the pair's guests did not keep their queues backlogged, the split's premise: "
                    + time.dryness() + "; per 100 ms, queued/charged ms, requests run and completions delivered:\n"
                    + time.trace + vms.stream().map(vm -> vm.name + ": " + tail(vm.out()) + "\n" + tail(vm.err()))
                    .reduce("", String::concat));
            assertTrue(Math.abs(split - 0.25) <= bound, "weight 1's share of the pair " + split + ", weight 3's "
                    + (1 - split) + ", bound +-" + bound + "; charged ms per 100 ms (queued/charged):\n" + time.trace);
            assertTrue(pair >= 0.5 - 0.03, "the well-behaved pair got " + pair + " of the engine, promised 0.5");
            assertTrue(heap1 - heap0 < 16L << 20, "heap used after GC grew from " + heap0 + " to " + heap1);
            assertTrue(rss1 - rss0 < 64L << 10, "RSS grew from " + rss0 + " to " + rss1 + " KiB");
        } finally {
            if (lease != null) {
                lease.close();
            }
            for (Vm vm : vms) {
                vm.quit();
            }
        }
        for (Vm vm : vms) {
            assertEquals(0, vm.task.get(60, TimeUnit.SECONDS), vm.name + ": QMP quit ends the VMM with 0; stderr: "
                    + vm.err());
        }
        String out = hostile.out();
        assertFalse(out.contains("UNEXPECTED"), out);
        for (String attack : ATTACKS.split(",")) {
            Matcher m = lastCounts(out, attack);
            assertTrue(m != null, "no counts for " + attack + " in\n" + out);
            long sent = Long.parseLong(m.group(2)), errors = Long.parseLong(m.group(3));
            long broken = Long.parseLong(m.group(4)), ok = Long.parseLong(m.group(5));
            assertEquals(0, Long.parseLong(m.group(6)), m.group());
            assertEquals(sent, errors + broken + ok, "every bad request accounted for: " + m.group());
            // reset's kernels are valid (the attack is on the accounting); every other attack's requests are bad.
            assertTrue(attack.equals("reset") ? ok > 0 : errors + broken > 0, m.group());
        }
        // Each break is logged with its reason; a guest breaking its device in a loop cannot flood the log.
        String err = hostile.err();
        assertTrue(err.contains("isthmus-vmm: virtio device 63: "), err);
        assertTrue(err.length() < 16 * 1024, "the hostile machine's log is " + err.length() + " bytes:\n" + err);
        for (Vm vm : vms.subList(0, 2)) {
            assertFalse(vm.err().contains("virtio device 63"), vm.name + ": " + vm.err());
        }
    }

    /** One machine of this VMM in this JVM, its serial output and messages readable while it runs. */
    private static final class Vm {
        final String name;
        final Path qmp;
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final FutureTask<Integer> task;

        Vm(Path dir, String name, String append, String device) throws IOException {
            this.name = name;
            this.qmp = dir.resolve("hostile-" + name + ".sock");
            Files.deleteIfExists(qmp);
            List<String> args = new ArrayList<>(List.of("-M", "microvm", "-accel", "kvm", "-display", "none",
                    "-m", "64M", "-serial", "stdio", "-kernel", TestGuests.guest("vgpu.elf").toString(),
                    "-append", append, "-device", "isthmus-vgpu," + device,
                    "-qmp", "unix:" + qmp + ",server=on,wait=off"));
            args.addAll(TestGuests.EXIT_DEVICE);
            PrintStream pout = new PrintStream(out, true, StandardCharsets.ISO_8859_1);
            PrintStream perr = new PrintStream(err, true, StandardCharsets.ISO_8859_1);
            task = new FutureTask<>(() -> Main.run(args.toArray(String[]::new),
                    HostStdio.of(InputStream.nullInputStream(), out), pout, perr));
            // A thread each: the lab has one CPU, and a pool would run them in turn.
            Thread.ofPlatform().name("isthmus-vmm-" + name).daemon(true).start(task);
        }

        String out() {
            synchronized (out) {
                return out.toString(StandardCharsets.ISO_8859_1).replace("\r\n", "\n");
            }
        }

        String err() {
            return err.toString(StandardCharsets.ISO_8859_1);
        }

        void quit() {
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ch.connect(UnixDomainSocketAddress.of(qmp));
                BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch),
                        StandardCharsets.UTF_8));
                OutputStream o = Channels.newOutputStream(ch);
                in.readLine();
                o.write("{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"quit\"}\n"
                        .getBytes(StandardCharsets.UTF_8));
                o.flush();
                in.readLine();
                in.readLine();
            } catch (IOException e) {
                // The machine is gone already (it failed or the quit raced its end): its result says why.
            }
        }
    }

    private static String tail(String s) {
        return s.length() <= 800 ? s : "..." + s.substring(s.length() - 800);
    }

    private static boolean pairRunning(String engine) {
        List<VgpuHosts.Usage> u = VgpuHosts.usage(engine);
        return u.stream().filter(x -> x.weight() != 4 && x.requests() > 10).count() == 2;
    }

    private static int last(Pattern p, String out) {
        Matcher m = p.matcher(out);
        int r = 0;
        while (m.find()) {
            r = Integer.parseInt(m.group(1));
        }
        return r;
    }

    private static Matcher lastCounts(String out, String attack) {
        Matcher m = COUNTS.matcher(out), last = null;
        while (m.find()) {
            if (m.group(1).equals(attack)) {
                last = COUNTS.matcher(m.group());
                last.matches();
            }
        }
        return last;
    }

    private static long busy(VgpuHosts.Lease lease) {
        long[] b = new long[1];
        lease.host().runOnSchedulerThread(() -> b[0] = lease.host().scheduler().busyNanos());
        return b[0];
    }

    private static long heapAfterGc() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /**
     * The well-behaved pair's engine time (by weight: 1 and 3), from snapshots of the scheduler's accounting 100 ms
     * apart, each vGPU's counted from one snapshot to the next; also whether its queue was ever seen empty, and its
     * longest request on the engine (its device's statistics, restarted when the interval begins).
     */
    private static final class EngineTime {
        private final String engine;
        private final long[] byWeight = new long[257];
        private final int[] drySamples = new int[257];
        private final int[] minPending = new int[257];
        private final List<VgpuStats> pairStats = new ArrayList<>();
        private final StringBuilder trace = new StringBuilder();
        private List<VgpuHosts.Usage> last;

        EngineTime(String engine) {
            this.engine = engine;
            Arrays.fill(minPending, Integer.MAX_VALUE);
            last = VgpuHosts.usage(engine);
            for (VgpuHosts.Usage u : last) {
                if (u.weight() != 4 && u.stats() != null) {
                    u.stats().restart();
                    pairStats.add(u.stats());
                }
            }
        }

        void sample() {
            List<VgpuHosts.Usage> now = VgpuHosts.usage(engine);
            for (VgpuHosts.Usage u : now) {
                VgpuHosts.Usage before = last.stream().filter(x -> x.vgpu() == u.vgpu()).findFirst().orElse(null);
                if (u.weight() != 4 && before != null && before.weight() == u.weight()) {
                    long delta = u.chargedNanos() - before.chargedNanos();
                    byWeight[u.weight()] += delta;
                    minPending[u.weight()] = Math.min(minPending[u.weight()], u.pending());
                    if (u.pending() == 0) {
                        drySamples[u.weight()]++;
                    }
                    trace.append(String.format(" w%d:%d/%.1f ran=%d done=%d", u.weight(), u.pending(), delta / 1e6,
                            u.requests(), u.stats() == null ? -1 : u.stats().completions()));
                }
            }
            trace.append('\n');
            last = now;
        }

        long of(int weight) {
            return byWeight[weight];
        }

        long longestRequest() {
            return pairStats.stream().mapToLong(st -> st.snapshot().longestEngineNanos()).max().orElse(0);
        }

        boolean neverDry() {
            return drySamples[1] == 0 && drySamples[3] == 0;
        }

        String dryness() {
            return String.format("the pair's queues at the scheduler: weight 1 empty in %d samples (fewest queued %d),"
                    + " weight 3 in %d (fewest %d)", drySamples[1], minPending[1], drySamples[3], minPending[3]);
        }
    }
}
