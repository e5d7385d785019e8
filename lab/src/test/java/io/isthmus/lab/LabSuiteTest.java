package io.isthmus.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Boots the lab once and runs inside it every test tagged {@code lab} of this module and of the test jars on its
 * class path, and, where the host has no KVM, every test tagged {@code kvm} (the build's {@code isthmus.lab.tags});
 * each guest test comes back as a host test named {@code [lab] Class}, so a failure in the guest fails the build
 * with its message and the report says the test ran in the lab, on its nested KVM.
 */
class LabSuiteTest {

    @TestFactory
    Stream<DynamicNode> guestTests() throws IOException {
        Path target = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().resolve("target");
        Path runDir = target.resolve("lab-run");
        List<String> tags = List.of(System.getProperty("isthmus.lab.tags", GuestJUnit.TAG).split(","));
        List<GuestTestResult> results;
        LabRun run;
        try (QemuLab lab = QemuLab.create()) {
            GuestJUnit junit = GuestJUnit.ofMavenBuild(lab, target).includeTags(tags);
            results = junit.run(runDir);
            run = junit.lastRun();
            Map<String, Long> byModule = results.stream().collect(Collectors.groupingBy(
                    r -> r.className().replaceFirst("^io\\.isthmus\\.([a-z]+)\\..*", "$1"), TreeMap::new,
                    Collectors.counting()));
            String timing = String.format("lab: %d tests ran in the lab guest (tagged %s; by module %s)%s;"
                            + " QEMU start to power-off %.1f s wall; guest uptime at READY %.1f s, at EXIT %.1f s"
                            + " (image %s, %d vCPU)%n",
                    results.size(), String.join(" or ", tags), byModule,
                    tags.contains(GuestJUnit.KVM_TAG) ? ", the kvm ones on its nested KVM (kvm_amd under QEMU's TCG)"
                            : "", run.wall().toMillis() / 1e3, run.readyAt(), run.exitAt(), lab.image().key(),
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
