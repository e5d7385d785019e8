package io.isthmus.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Boots the lab once and runs every test of this module tagged {@code lab} inside it; each guest test comes
 * back as a host test, so a failure in the guest fails the build with its message.
 */
class LabSuiteTest {

    @TestFactory
    Stream<DynamicNode> guestTests() throws IOException {
        Path target = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().resolve("target");
        Path runDir = target.resolve("lab-run");
        List<GuestTestResult> results;
        LabRun run;
        try (QemuLab lab = QemuLab.create()) {
            GuestJUnit junit = GuestJUnit.ofMavenBuild(lab, target);
            results = junit.run(runDir);
            run = junit.lastRun();
            String timing = String.format("lab: %d guest tests; QEMU start to power-off %.1f s wall;"
                            + " guest uptime at READY %.1f s, at EXIT %.1f s (image %s, %d vCPU)%n",
                    results.size(), run.wall().toMillis() / 1e3, run.readyAt(), run.exitAt(), lab.image().key(),
                    lab.config().cpus());
            System.out.print(timing);
            Files.writeString(runDir.resolve("timing.txt"), timing);
        }
        String console = run.console();
        DynamicTest markers = DynamicTest.dynamicTest("lab guest reached READY and powered off", () -> {
            assertNotNull(run.readyAt(), "no READY marker on the console");
            assertNotNull(run.exitAt(), "no EXIT marker on the console");
            assertEquals(-1, console.indexOf("ISTHMUS-LAB WARN"), "a lab module failed to load:\n" + console);
            // The script's exit status comes back: the console launcher exits 1 when a test failed, else 0.
            boolean allPassed = results.stream().noneMatch(r -> r.status() == GuestTestResult.Status.FAILED);
            assertEquals(allPassed ? 0 : 1, run.exitStatus(), "exit status of the guest's console launcher");
        });
        return Stream.concat(Stream.of(markers), GuestJUnit.dynamicTests(results));
    }
}
