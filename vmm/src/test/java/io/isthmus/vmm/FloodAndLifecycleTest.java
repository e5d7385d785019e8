package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.isthmus.vmm.machine.HostStdio;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The VMM under floods and lifecycles, in this JVM (the guest is hostile, the host may be slow), with descriptors,
 * mappings, threads and RSS read from /proc/self before and after:
 * <ul>
 * <li>a guest writing {@code flood.bytes} bytes to COM1 while the host writes to its input at full speed: every byte
 *     arrives in order and RSS grows at most 1 %;</li>
 * <li>a guest writing blindly to a reader that takes nothing: the vCPU still finishes (the bytes are dropped);</li>
 * <li>{@code lifecycle.cycles} create/boot/destroy cycles, and {@code lifecycle.concurrent} VMs at once: everything
 *     back to its baseline;</li>
 * <li>a hostile guest doing {@code hostile.accesses} random port and MMIO accesses while a QMP client polls
 *     query-status: every reply comes, promptly.</li>
 * </ul>
 * The defaults are small (the lab's nested KVM costs ~50 µs an exit); the full sizes are properties, e.g.
 * {@code -Dflood.bytes=100000000 -Dlifecycle.cycles=10000 -Dhostile.accesses=10000000} (README: Hardening). Each
 * test appends its figures to {@code target/hardening-figures.txt} (in the lab guest, under the host's tree).
 */
@Tag("kvm")
class FloodAndLifecycleTest {
    static final int FLOOD = Integer.getInteger("flood.bytes", 200_000);
    static final int CYCLES = Integer.getInteger("lifecycle.cycles", 150);
    static final int CONCURRENT = Integer.getInteger("lifecycle.concurrent", 20);
    static final int HOSTILE = Integer.getInteger("hostile.accesses", 20_000);
    /** Bytes each of the concurrent VMs writes. */
    static final int PER_VM = Integer.getInteger("lifecycle.concurrent.bytes", 4_000);
    static final ObjectMapper JSON = new ObjectMapper();

    /** Records a line of figures for the report (and stdout). */
    static void figures(String line) {
        System.out.println(line);
        try {
            Path f = Path.of("target", "hardening-figures.txt");
            Files.createDirectories(f.getParent());
            Files.writeString(f, java.time.Instant.now() + " " + line + "\n", StandardCharsets.UTF_8,
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        } catch (IOException e) {
            // figures are a report, not the test
        }
    }

    /** Checks the flood's a-z pattern as it arrives and counts it; keeps nothing. */
    static final class PatternCheck extends OutputStream {
        long count, wrong = -1;

        @Override
        public void write(int b) {
            if (b != 'a' + count % 26 && wrong < 0) {
                wrong = count;
            }
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) {
            for (int i = 0; i < len; i++) {
                write(b[off + i]);
            }
        }
    }

    /** Host input at full speed, forever (until the machine stops reading); counts what was taken. */
    static final class Firehose extends InputStream {
        final AtomicLong taken = new AtomicLong();

        @Override
        public int read() {
            taken.incrementAndGet();
            return 'x';
        }

        @Override
        public int read(byte[] b, int off, int len) {
            java.util.Arrays.fill(b, off, off + len, (byte) 'x');
            taken.addAndGet(len);
            return len;
        }
    }

    static List<String> args(String guest, String append, String... more) {
        List<String> a = new ArrayList<>(List.of("-M", "microvm", "-accel", "kvm", "-display", "none", "-m", "16M",
                "-serial", "stdio", "-kernel", TestGuests.guest(guest).toString(), "-append", append));
        a.addAll(TestGuests.EXIT_DEVICE);
        a.addAll(List.of(more));
        return a;
    }

    /** The VMM on this thread, as the command line runs it, with these streams. */
    static int run(List<String> args, InputStream in, OutputStream out, ByteArrayOutputStream err) {
        PrintStream perr = new PrintStream(err, true, StandardCharsets.ISO_8859_1);
        return Main.run(args.toArray(String[]::new), HostStdio.of(in, out), perr, perr);
    }

    /** Waits up to 10 s for threads that end asynchronously (output and input threads) to go. */
    static ProcessResources settle(ProcessResources baseline) throws InterruptedException {
        ProcessResources now = ProcessResources.now();
        for (int i = 0; i < 100 && (now.threads() > baseline.threads() || now.fds() > baseline.fds()); i++) {
            Thread.sleep(100);
            now = ProcessResources.now();
        }
        return now;
    }

    /**
     * The baseline once the warm-up's threads that end asynchronously have gone: thread and descriptor counts unchanged
     * over 300 ms (at most 5 s), so a warm-up thread ending during the measured run is not counted against it.
     */
    static ProcessResources quiet() throws InterruptedException {
        ProcessResources now = ProcessResources.now();
        for (int i = 0, still = 0; i < 50 && still < 3; i++) {
            Thread.sleep(100);
            ProcessResources next = ProcessResources.now();
            still = next.threads() == now.threads() && next.fds() == now.fds() ? still + 1 : 0;
            now = next;
        }
        return now;
    }

    @Test
    void serialFloodArrivesWholeAndRssStaysFlat() throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        run(args("flood.elf", "n=" + Math.max(FLOOD / 10, 20_000) + " p=1"), new Firehose(), new PatternCheck(), err);
        System.gc();
        ProcessResources before = quiet();
        PatternCheck out = new PatternCheck();
        Firehose in = new Firehose();
        long t0 = System.nanoTime();
        int status = run(args("flood.elf", "n=" + FLOOD + " p=1"), in, out, err);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        ProcessResources after = settle(before);
        figures(String.format("serial flood: %,d bytes in %,d ms (%.1f KB/s), host input taken %,d bytes; before: %s;"
                + " after: %s", FLOOD, ms, (double) FLOOD / Math.max(ms, 1), in.taken.get(), before, after));
        assertEquals(67, status, err.toString());
        assertEquals(FLOOD, out.count, "bytes the reader got");
        assertEquals(-1, out.wrong, "first byte out of pattern");
        // The guest never reads its input: the input thread stops at a full receive buffer, holding the host back.
        assertTrue(in.taken.get() < 64 * 1024, "host input taken " + in.taken.get());
        assertTrue(after.rssKiB() <= before.rssKiB() * 101 / 100, "RSS " + before.rssKiB() + " -> " + after.rssKiB()
                + " KiB");
        assertEquals(before.fds(), after.fds(), "descriptors");
        // None left behind; one fewer is another test's thread ending meanwhile, not this one's doing.
        assertTrue(after.threads() <= before.threads(), "threads " + before.threads() + " -> " + after.threads());
    }

    @Test
    void aStalledReaderNeverBlocksTheVcpu() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        OutputStream stalled = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new IOException(e);
                }
            }
        };
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int n = Math.max(FLOOD / 2, 100_000); // well past the 64 KiB queue
        long t0 = System.nanoTime();
        ExecutorService one = Executors.newSingleThreadExecutor();
        try {
            Future<Integer> status = one.submit(() -> run(args("flood.elf", "n=" + n + " p=0"),
                    InputStream.nullInputStream(), stalled, err));
            // The guest's writes never wait for the reader: it reaches its exit. (The machine then waits up to 2 s
            // for the reader to take what is queued before it gives up on it.)
            assertEquals(67, status.get(300, TimeUnit.SECONDS), err.toString());
            figures(String.format("stalled reader: the guest wrote %,d bytes blindly and exited after %,d ms",
                    n, (System.nanoTime() - t0) / 1_000_000));
        } finally {
            release.countDown();
            one.shutdownNow();
        }
    }

    @Test
    void createBootDestroyCyclesLeaveNothingBehind() throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        for (int i = 0; i < 5; i++) {
            assertEquals(67, run(args("flood.elf", "n=64"), InputStream.nullInputStream(), new PatternCheck(), err));
        }
        System.gc();
        ProcessResources before = quiet();
        long t0 = System.nanoTime();
        for (int i = 0; i < CYCLES; i++) {
            err.reset();
            PatternCheck out = new PatternCheck();
            int status = run(args("flood.elf", "n=64"), InputStream.nullInputStream(), out, err);
            if (status != 67 || out.count != 64) {
                throw new AssertionError("cycle " + i + ": status " + status + ", " + out.count + " bytes; " + err);
            }
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.gc();
        ProcessResources after = settle(before);
        figures(String.format("lifecycle: %,d create/boot/destroy cycles in %,d ms (%.1f ms each); before: %s; after:"
                + " %s", CYCLES, ms, (double) ms / CYCLES, before, after));
        assertEquals(before.fds(), after.fds(), "descriptors");
        // None left behind; one fewer is another test's thread ending meanwhile, not this one's doing.
        assertTrue(after.threads() <= before.threads(), "threads " + before.threads() + " -> " + after.threads());
        assertEquals(before.kvmMappings(), after.kvmMappings(), "KVM mappings");
        // The JVM maps and unmaps memory of its own (code cache, GC); leaked VMs would leave 3+ mappings each.
        assertTrue(after.mappings() - before.mappings() < 50, "mappings " + before.mappings() + " -> "
                + after.mappings());
        assertTrue(after.rssKiB() <= before.rssKiB() * 105 / 100 + 8192, "RSS " + before.rssKiB() + " -> "
                + after.rssKiB() + " KiB");
    }

    @Test
    void twentyVmsAtOnce() throws Exception {
        run(args("flood.elf", "n=64"), InputStream.nullInputStream(), new PatternCheck(), new ByteArrayOutputStream());
        System.gc();
        ProcessResources before = quiet();
        ExecutorService pool = Executors.newFixedThreadPool(CONCURRENT);
        ProcessResources during;
        long t0 = System.nanoTime();
        try {
            List<Future<String>> vms = new ArrayList<>();
            CountDownLatch started = new CountDownLatch(CONCURRENT);
            for (int i = 0; i < CONCURRENT; i++) {
                vms.add(pool.submit(() -> {
                    ByteArrayOutputStream err = new ByteArrayOutputStream();
                    PatternCheck out = new PatternCheck();
                    started.countDown();
                    int status = run(args("flood.elf", "n=" + PER_VM + " p=1"), new Firehose(), out, err);
                    return status + " " + out.count + " " + out.wrong + (status == 67 ? "" : " " + err);
                }));
            }
            started.await();
            Thread.sleep(200);
            during = ProcessResources.now();
            for (Future<String> f : vms) {
                assertEquals("67 " + PER_VM + " -1", f.get(300, TimeUnit.SECONDS));
            }
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(10, TimeUnit.SECONDS);
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.gc();
        ProcessResources after = settle(before);
        figures(String.format("%d VMs at once: %,d ms; before: %s; while running: %s; after: %s", CONCURRENT, ms,
                before, during, after));
        assertEquals(before.fds(), after.fds(), "descriptors");
        // None left behind; one fewer is another test's thread ending meanwhile, not this one's doing.
        assertTrue(after.threads() <= before.threads(), "threads " + before.threads() + " -> " + after.threads());
        assertEquals(before.kvmMappings(), after.kvmMappings(), "KVM mappings");
    }

    @Test
    void hostileGuestWhileQmpAnswersThroughout() throws Exception {
        Path sock = TestGuests.scratch().resolve("hostile-qmp.sock");
        Files.deleteIfExists(sock);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ExecutorService one = Executors.newSingleThreadExecutor();
        try {
            Future<Integer> status = one.submit(() -> run(args("hostile.elf", "n=" + HOSTILE, "-qmp", "unix:" + sock
                    + ",server=on,wait=off"), InputStream.nullInputStream(), out, err));
            SocketChannel ch = null;
            for (int i = 0; i < 3000 && ch == null && !status.isDone(); i++) {
                try {
                    ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                    ch.connect(UnixDomainSocketAddress.of(sock));
                } catch (IOException e) {
                    ch = null;
                    Thread.sleep(10);
                }
            }
            assertTrue(ch != null, "no QMP socket; " + err);
            int replies = 0;
            long worstMs = 0;
            try (SocketChannel c = ch) {
                java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(
                        Channels.newInputStream(c), StandardCharsets.UTF_8));
                OutputStream w = Channels.newOutputStream(c);
                in.readLine();
                w.write("{\"execute\":\"qmp_capabilities\"}\n".getBytes());
                in.readLine();
                while (!status.isDone()) {
                    long t = System.nanoTime();
                    try {
                        w.write(("{\"execute\":\"query-status\",\"id\":" + replies + "}\n").getBytes());
                    } catch (IOException e) {
                        break; // the machine ended between the check and the write
                    }
                    String line;
                    JsonNode r = null;
                    try {
                        while ((line = in.readLine()) != null && (r = JSON.readTree(line)).has("event")) {
                            r = null;
                        }
                    } catch (java.net.SocketException e) {
                        break; // the machine ended with our request unread: the server's close resets the socket
                    }
                    if (r == null) {
                        break;
                    }
                    assertEquals(replies, r.path("id").asInt(), r.toString());
                    replies++;
                    worstMs = Math.max(worstMs, (System.nanoTime() - t) / 1_000_000);
                }
            }
            assertEquals(67, status.get(600, TimeUnit.SECONDS), err.toString());
            assertTrue(out.toString(StandardCharsets.ISO_8859_1).contains("survived " + HOSTILE + " accesses"));
            figures(String.format("hostile guest: %,d random accesses; QMP answered %,d query-status meanwhile, the"
                    + " slowest in %d ms", HOSTILE, replies, worstMs));
            assertTrue(replies > 0, "QMP answered nothing while the guest ran");
            assertTrue(worstMs < 5000, "a QMP reply took " + worstMs + " ms");
        } finally {
            one.shutdownNow();
        }
    }
}
