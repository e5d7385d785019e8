package io.isthmus.vmm.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;

import org.junit.jupiter.api.Test;


/** {@code isthmus demo}'s command line, without KVM: bad input gets one line naming it and status 2, no VM made. */
class GpuShareCommandTest {

    private static String run(int status, String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        assertEquals(status, DemoMain.execute(args, new PrintWriter(out, true), new PrintWriter(err, true)),
                out + "\n" + err);
        return out + err.toString();
    }

    @Test
    void badOptionsGetOneLineAndStatusTwo() {
        assertTrue(run(2, "gpu-share", "--vms", "3", "--weights", "1,2").contains(
                "isthmus demo: --weights names 2 weights for 3 VMs; give one per VM"));
        assertTrue(run(2, "gpu-share", "--kernel", "saxpy:100000").contains("the guest driver's are 16 KiB"));
        assertTrue(run(2, "gpu-share", "--engine", "gpu").contains(
                "--engine 'gpu' is not an engine; use sim, host or cuda"));
        assertTrue(run(2, "gpu-share", "--depth", "65").contains("--depth 65 is out of range; use 1 to 64"));
        assertTrue(run(2, "gpu-share", "--weights", "1,0").contains("vm2's weight 0 is out of range"));
        assertTrue(run(2, "gpu-share", "--weights", "1,1", "--caps", "3=20%").contains("--caps: VM 3 is not 1 to 2"));
        assertTrue(run(2, "gpu-share", "--caps", "1=120%").contains("a cap is a whole percentage, 1% to 100%"));
        assertTrue(run(2, "gpu-share", "--duration", "ten").contains("isthmus demo: "));
        assertTrue(run(2, "gpu-share", "--memory", "4K").contains("--memory 4K: use 128K to 1T"));
        String usage = run(2, "gpu-share", "--no-such-option");
        assertTrue(usage.contains("Unknown option: '--no-such-option'"), usage);
        assertFalse(usage.contains("\tat "), "no stack trace: " + usage);
    }

    @Test
    void helpNeedsNoKvm() {
        assertTrue(run(0, "gpu-share", "--help").contains("--weights"));
        assertTrue(run(0, "--help").contains("gpu-share"));
    }
}
