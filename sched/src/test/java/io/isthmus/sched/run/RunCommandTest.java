package io.isthmus.sched.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.sched.cli.SchedMain;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code isthmus sched run} end to end: the table, the files, and one-line refusals with their exit statuses. */
class RunCommandTest {
    private static String[] run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int status = SchedMain.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new String[] {String.valueOf(status), out.toString(), err.toString()};
    }

    @Test
    void simulatedRunReportsSharesByWeightAndWritesItsFiles(@TempDir Path dir) throws Exception {
        String[] r = run("run", "--engine", "sim", "--weights", "1,3", "--duration", "2s", "--live=false",
                "--csv", dir.resolve("s.csv").toString(), "--png", dir.resolve("s.png").toString(),
                "--json", dir.resolve("s.json").toString());
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].matches("(?s).*\\n0\\s+1\\s+-\\s+25\\.00\\s+2[45]\\.\\d\\d .*"), r[1]);
        assertTrue(r[1].matches("(?s).*\\n1\\s+3\\s+-\\s+75\\.00\\s+7[45]\\.\\d\\d .*"), r[1]);
        assertTrue(Files.size(dir.resolve("s.png")) > 1000);
        assertTrue(Files.readAllLines(dir.resolve("s.csv")).size() > 10);
        assertTrue(Files.readString(dir.resolve("s.json")).contains("\"share\""));
    }

    @Test
    void hostRunCompletesRealKernels(@TempDir Path dir) {
        String[] r = run("run", "--engine", "host", "--weights", "1,1", "--duration", "300ms", "--kernel",
                "spin:50us,saxpy:4K", "--live=false", "--csv", dir.resolve("h.csv").toString(), "--png",
                dir.resolve("h.png").toString());
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("engine path"), r[1]);
    }

    @Test
    void badInputIsOneLineAndStatusTwo() {
        String[] r = run("run", "--engine", "gpu");
        assertEquals("2", r[0]);
        assertEquals("isthmus sched: --engine 'gpu' is not an engine; use sim, host or cuda\n", r[2]);
        r = run("run", "--kernel", "matmul:5000");
        assertEquals("2", r[0]);
        assertTrue(r[2].startsWith("isthmus sched: --kernel matmul:5000: the size is out of range"), r[2]);
        r = run("run", "--memory", "lots");
        assertEquals("2", r[0]);
        assertEquals(1, r[2].lines().count(), r[2]);
    }

    @Test
    void cudaWithoutADriverIsOneLineAndStatusOne() {
        org.junit.jupiter.api.Assumptions.assumeFalse(io.isthmus.sys.CudaDriver.available(), "a driver is present");
        String[] r = run("run", "--engine", "cuda", "--duration", "1s");
        assertEquals("1", r[0]);
        assertTrue(r[2].startsWith("isthmus sched: --engine cuda: no libcuda.so.1: needs an NVIDIA GPU and driver"),
                r[2]);
        assertEquals(1, r[2].lines().count(), r[2]);
    }
}
