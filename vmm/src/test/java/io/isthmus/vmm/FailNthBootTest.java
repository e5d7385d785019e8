package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.sys.Errno;
import io.isthmus.sys.Libc;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Booting the VMM (machine, devices, loader, run, teardown) with each system call of the booting thread failing in
 * turn ({@link Libc.FailNth}): the VMM prints one line naming the step and exits with status 1, or, where the call
 * was one it may do without, runs the guest to its end; either way no descriptor, KVM mapping or thread is left.
 */
@Tag("kvm")
class FailNthBootTest {

    @AfterEach
    void disarm() {
        Libc.FailNth.disarm();
    }

    @Test
    void everyFailingCallIsNamedAndLeavesNothingBehind() throws Exception {
        List<String> args = FloodAndLifecycleTest.args("flood.elf", "n=64");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        for (int i = 0; i < 3; i++) {
            assertEquals(67, FloodAndLifecycleTest.run(args, InputStream.nullInputStream(),
                    new FloodAndLifecycleTest.PatternCheck(), err), err.toString());
        }
        System.gc();
        ProcessResources before = ProcessResources.now();
        List<String> outcomes = new ArrayList<>();
        int n = 1;
        for (; n < 300; n++) {
            err.reset();
            Libc.FailNth.arm(n, Errno.ENOMEM);
            int status = FloodAndLifecycleTest.run(args, InputStream.nullInputStream(),
                    new FloodAndLifecycleTest.PatternCheck(), err);
            boolean fired = Libc.FailNth.disarm();
            String msg = err.toString().strip();
            if (!fired) {
                assertEquals(67, status, msg);
                break;
            }
            ProcessResources after = FloodAndLifecycleTest.settle(before);
            if (status == 67) {
                outcomes.add(n + ": tolerated");
            } else {
                assertEquals(1, status, "call " + n + ": " + msg);
                assertTrue(msg.startsWith("isthmus-vmm: ") && msg.contains("ENOMEM") && msg.lines().count() == 1,
                        "call " + n + ": one line naming the step and errno, got: " + msg);
                outcomes.add(n + ": " + msg);
            }
            String last = outcomes.getLast();
            assertEquals(before.fds(), after.fds(), "descriptors after failing call " + last);
            assertEquals(before.kvmMappings(), after.kvmMappings(), "KVM mappings after failing call " + last);
            assertEquals(before.threads(), after.threads(), "threads after failing call " + last);
        }
        assertTrue(n > 10 && n < 300, n - 1 + " counted calls: " + outcomes);
        FloodAndLifecycleTest.figures("VMM boot fail-nth: " + (n - 1) + " calls failed in turn:\n  "
                + String.join("\n  ", outcomes));
    }
}
