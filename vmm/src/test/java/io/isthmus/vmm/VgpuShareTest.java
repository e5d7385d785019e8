package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.isthmus.vmm.vgpu.VgpuHosts;

/**
 * Two KVM guests in one process, each with a vGPU on the shared host engine, weights 1 and 3, both backlogged with
 * 1 ms kernels: over a measured interval each gets its weight's share of the engine's time, within ±2 points (the
 * issue's bound), measured by the scheduler's own accounting of engine time. The guests run until QMP quits them.
 */
@Tag("kvm")
class VgpuShareTest {

    @Test
    void twoGuestsShareTheEngineByWeight() throws Exception {
        Path dir = TestGuests.scratch();
        List<Path> sockets = List.of(dir.resolve("share-1.sock"), dir.resolve("share-3.sock"));
        List<CompletableFuture<TestGuests.Result>> vms = new ArrayList<>();
        int[] weights = {1, 3};
        for (int i = 0; i < 2; i++) {
            Files.deleteIfExists(sockets.get(i));
            List<String> args = new ArrayList<>(List.of("-m", "64M", "-serial", "stdio", "-kernel",
                    TestGuests.guest("vgpu.elf").toString(), "-append", "requests=100000000 depth=64 mix=spin:1000",
                    "-device", "isthmus-vgpu,weight=" + weights[i] + ",memory=1M",
                    "-qmp", "unix:" + sockets.get(i) + ",server=on,wait=off"));
            args.addAll(TestGuests.EXIT_DEVICE);
            // A thread each: the common pool has one thread on the lab's single CPU, which would run them in turn.
            vms.add(CompletableFuture.supplyAsync(() -> TestGuests.isthmus(args),
                    r -> Thread.ofPlatform().daemon(true).start(r)));
        }
        try {
            // Both guests past their set-up and running kernels, then a second of warm-up.
            long deadline = System.nanoTime() + 120_000_000_000L;
            while (!bothRunning()) {
                assertTrue(System.nanoTime() < deadline, "the two guests never both ran kernels: "
                        + VgpuHosts.usage("host"));
                assertTrue(vms.stream().noneMatch(CompletableFuture::isDone), "a guest ended early");
                Thread.sleep(100);
            }
            Thread.sleep(1000);
            List<VgpuHosts.Usage> a = VgpuHosts.usage("host");
            Thread.sleep(4000);
            List<VgpuHosts.Usage> b = VgpuHosts.usage("host");
            long light = delta(a, b, 1), heavy = delta(a, b, 3);
            double share = (double) light / (light + heavy);
            System.out.printf("vgpu share: weight 1 got %.4f of %.3f s of engine time (target 0.25)%n", share,
                    (light + heavy) / 1e9);
            assertTrue((light + heavy) > 2_000_000_000L, "the engine was busy " + (light + heavy) + " ns of 4 s");
            assertTrue(Math.abs(share - 0.25) <= 0.02, "weight 1's share " + share + ", weight 3's " + (1 - share));
        } finally {
            for (Path s : sockets) {
                quit(s);
            }
        }
        for (CompletableFuture<TestGuests.Result> vm : vms) {
            TestGuests.Result r = vm.get();
            assertEquals(0, r.status(), "QMP quit ends the VMM with 0; stderr: " + r.stderr());
        }
    }

    private static boolean bothRunning() {
        List<VgpuHosts.Usage> u = VgpuHosts.usage("host");
        return u.size() == 2 && u.stream().allMatch(x -> x.requests() > 50);
    }

    private static long delta(List<VgpuHosts.Usage> a, List<VgpuHosts.Usage> b, int weight) {
        VgpuHosts.Usage x = a.stream().filter(u -> u.weight() == weight).findFirst().orElseThrow();
        VgpuHosts.Usage y = b.stream().filter(u -> u.weight() == weight && u.vgpu() == x.vgpu()).findFirst()
                .orElseThrow();
        return y.serviceNanos() - x.serviceNanos();
    }

    private static void quit(Path socket) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch),
                    StandardCharsets.UTF_8));
            OutputStream out = Channels.newOutputStream(ch);
            in.readLine();
            out.write("{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"quit\"}\n".getBytes(StandardCharsets.UTF_8));
            out.flush();
            in.readLine();
            in.readLine();
        } catch (IOException e) {
            // The VM is gone already (it failed): its result says why.
        }
    }
}
