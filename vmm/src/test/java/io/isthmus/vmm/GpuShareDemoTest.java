package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.isthmus.vmm.demo.DemoMain;

/**
 * {@code isthmus demo gpu-share} end to end on real KVM: guests in this JVM, each running the shipped vGPU guest
 * driver (halting until its device's interrupt), share one engine's weighted scheduler. Over the measured interval
 * every VM's share of the GPU time is within ±2 percentage points of its weight's share (the bound), a capped
 * VM stays under its cap, and the demo writes its table, CSV, PNG and JSON. Shares are read back from the JSON the
 * command writes (the scheduler's figures, not the test's own timing).
 */
@Tag("kvm")
class GpuShareDemoTest {

    /** Runs the demo in this JVM; @return its exit status, and its output in {@code out}. */
    private static int demo(StringWriter out, String... args) {
        StringWriter err = new StringWriter();
        int status = DemoMain.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        System.out.print(out);
        System.out.print(err);
        out.append(err.toString());
        return status;
    }

    private static List<String> files(Path dir, String name) {
        return List.of("--csv", dir.resolve(name + ".csv").toString(), "--png", dir.resolve(name + ".png").toString(),
                "--json", dir.resolve(name + ".json").toString());
    }

    @Test
    void fourVmsShareTheSimulatedEngineByWeightWithinTwoPoints() throws IOException {
        Path dir = Files.createDirectories(TestGuests.scratch().resolve("demo-sim"));
        List<String> args = new ArrayList<>(List.of("gpu-share", "--vms", "4", "--weights", "1,2,3,4", "--engine",
                "sim", "--duration", "6s", "--warmup", "1s", "--no-live", "--check", "2"));
        args.addAll(files(dir, "four"));
        StringWriter out = new StringWriter();
        int status = demo(out, args.toArray(String[]::new));
        assertEquals(0, status, out.toString());
        JsonNode r = new ObjectMapper().readTree(dir.resolve("four.json").toFile());
        JsonNode vms = r.get("vms");
        assertEquals(4, vms.size(), r.toString());
        double[] target = {0.1, 0.2, 0.3, 0.4};
        for (int i = 0; i < 4; i++) {
            JsonNode v = vms.get(i);
            assertEquals("vm" + (i + 1), v.get("vm").asText());
            assertEquals(target[i], v.get("target").asDouble(), 1e-9);
            assertTrue(Math.abs(v.get("share").asDouble() - target[i]) <= 0.02, v.toString());
            assertTrue(v.get("requests").asLong() > 20, v.toString());
            assertEquals(0, v.get("errors").asLong(), v.toString());
            assertTrue(v.get("p50_ns").asLong() > 0 && v.get("p99_ns").asLong() >= v.get("p50_ns").asLong(),
                    v.toString());
        }
        // Backlogged, the modelled engine is busy: its GPU time is most of the measured time.
        long gpu = 0;
        for (JsonNode v : vms) {
            gpu += v.get("gpu_ns").asLong();
        }
        assertTrue(gpu > r.get("measured_ns").asLong() / 2, r.toString());
        List<String> csv = Files.readAllLines(dir.resolve("four.csv"));
        assertEquals("time_s,vm1_share_pct,vm2_share_pct,vm3_share_pct,vm4_share_pct", csv.get(0));
        assertTrue(csv.size() >= 20, "6 s in 250 ms windows: " + csv);
        byte[] png = Files.readAllBytes(dir.resolve("four.png"));
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));
        assertTrue(out.toString().contains("vm4        4     -    40.00"), out.toString());
    }

    @Test
    void aCappedVmStaysUnderItsCapOnTheHostEngine() throws IOException {
        Path dir = Files.createDirectories(TestGuests.scratch().resolve("demo-cap"));
        List<String> args = new ArrayList<>(List.of("gpu-share", "--weights", "1,1,2", "--caps", "3=25%",
                "--engine", "host", "--duration", "5s", "--warmup", "1s", "--no-live"));
        args.addAll(files(dir, "cap"));
        StringWriter out = new StringWriter();
        assertEquals(0, demo(out, args.toArray(String[]::new)), out.toString());
        JsonNode vms = new ObjectMapper().readTree(dir.resolve("cap.json").toFile()).get("vms");
        // vm3's weight would give it half; its cap holds it to a quarter, and the others share the rest equally.
        assertEquals(0.25, vms.get(2).get("target").asDouble(), 1e-9);
        assertTrue(vms.get(2).get("share").asDouble() <= 0.25 + 0.01, vms.toString());
        for (int i = 0; i < 2; i++) {
            assertTrue(Math.abs(vms.get(i).get("share").asDouble() - 0.375) <= 0.02, vms.toString());
            assertTrue(vms.get(i).get("requests").asLong() > 20, vms.toString());
        }
    }
}
