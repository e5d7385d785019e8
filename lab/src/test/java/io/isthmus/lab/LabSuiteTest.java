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
        try (QemuLab lab = QemuLab.create()) {
            long start = System.nanoTime();
            results = GuestJUnit.ofMavenBuild(lab, target).run(runDir);
            double wall = (System.nanoTime() - start) / 1e9;
            String timing = String.format("lab: %d guest tests, %.1f s from QEMU start to power-off (image %s)%n",
                    results.size(), wall, lab.image().key());
            System.out.print(timing);
            Files.writeString(runDir.resolve("timing.txt"), timing);
        }
        // The lab itself: it reached READY and reported the command's exit, which the console shows.
        String console = Files.readString(runDir.resolve("share-console.log"));
        DynamicTest markers = DynamicTest.dynamicTest("lab guest reached READY and powered off", () -> {
            assertNotNull(LabRun.uptimeOf(console, "ISTHMUS-LAB READY"), "no READY marker on the console");
            assertNotNull(LabRun.uptimeOf(console, "ISTHMUS-LAB EXIT"), "no EXIT marker on the console");
            assertEquals(-1, console.indexOf("ISTHMUS-LAB WARN"), "a lab module failed to load:\n" + console);
        });
        return Stream.concat(Stream.of(markers), GuestJUnit.dynamicTests(results));
    }
}
