package io.isthmus.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.sched.cli.SchedMain;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import net.jqwik.api.Example;

/** {@code isthmus sched simulate}: table, CSV, PNG. */
class CommandLineTest {
    @Example
    void simulatePrintsATableAndWritesCsvAndPng() throws Exception {
        Path dir = Files.createTempDirectory("sched-cli");
        Path csv = dir.resolve("s.csv"), png = dir.resolve("s.png");
        StringWriter out = new StringWriter(), err = new StringWriter();
        int rc = SchedMain.execute(new String[] {"simulate", "--policy", "weighted", "--vgpus", "3", "--weights",
            "1,2,3", "--slice", "2ms", "--duration", "1s", "--csv", csv.toString(), "--png", png.toString(),
            "--no-progress"}, new PrintWriter(out, true), new PrintWriter(err, true));
        assertEquals(0, rc, err.toString());
        String table = out.toString();
        assertTrue(table.contains("policy weighted, 3 vGPUs, slice 2.00ms"), table);
        assertTrue(table.contains("Jain's index"), table);
        List<String> lines = Files.readAllLines(csv);
        assertEquals("window_end_s,vgpu0_share_pct,vgpu1_share_pct,vgpu2_share_pct", lines.get(0));
        assertEquals(11, lines.size(), "a header and ten 100 ms windows");
        var image = ImageIO.read(png.toFile());
        assertNotNull(image, "a readable PNG");
        assertTrue(image.getWidth() >= 800 && image.getHeight() >= 400);
    }

    @Example
    void durationsTakeMinutesAndHours() throws Exception {
        Path dir = Files.createTempDirectory("sched-cli");
        for (String[] d : new String[][] {{"2m", "2.00m"}, {"1h", "1.00h"}}) {
            StringWriter out = new StringWriter(), err = new StringWriter();
            // One vGPU of 25 ms items: an hour of virtual time is 144,000 items, well under a second.
            int rc = SchedMain.execute(new String[] {"simulate", "--policy", "best-effort", "--vgpus", "1", "--work",
                "fixed:25ms", "--duration", d[0], "--window", "1m", "--caps", "0=50%", "--arrive", "0@1s",
                "--interactive", "0", "--csv", dir.resolve("s.csv").toString(), "--png",
                dir.resolve("s.png").toString(), "--no-progress"}, new PrintWriter(out, true), new PrintWriter(err, true));
            assertEquals(0, rc, err.toString());
            assertTrue(out.toString().contains(d[1] + " of virtual time"), out.toString());
            // Capped at 50 % and joining 1 s late: the share is half of the time present, whatever the duration.
            String row = out.toString().lines().filter(l -> l.startsWith("0 ")).findFirst().orElseThrow();
            assertTrue(row.matches("0 +1 +50% +- +- +(49|50)\\.\\d\\d +(49|50)\\.\\d\\d .*"), row);
        }
    }

    @Example
    void helpWorks() {
        StringWriter out = new StringWriter();
        assertEquals(0, SchedMain.execute(new String[] {"--help"}, new PrintWriter(out, true), new PrintWriter(out)));
        assertTrue(out.toString().contains("simulate"), out.toString());
    }
}
