package io.isthmus.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/**
 * How guest results come back: parsed from a real report that the console launcher wrote in the lab guest
 * (one failing and one skipped test were added for that run), then replayed as host tests.
 */
class GuestJUnitReportTest {

    private static List<GuestTestResult> fixture(Path dir) throws IOException {
        Path reports = Files.createDirectories(dir.resolve("reports"));
        try (InputStream in = GuestJUnitReportTest.class.getResourceAsStream("guest-report-with-failure.xml")) {
            Files.copy(in, reports.resolve("TEST-junit-jupiter.xml"));
        }
        return GuestJUnit.parseReports(reports);
    }

    @Test
    void parsesEveryTestcaseWithItsStatus(@TempDir Path dir) throws IOException {
        Map<String, GuestTestResult> byName = fixture(dir).stream()
                .collect(Collectors.toMap(r -> r.simpleClassName() + "." + r.name(), r -> r));
        assertEquals(8, byName.size(), byName.keySet().toString());
        assertEquals(GuestTestResult.Status.PASSED, byName.get("EduBar0LabTest.bar0IdentificationAndLiveness()").status());
        GuestTestResult failed = byName.get("TmpFailLabTest.fails()");
        assertEquals(GuestTestResult.Status.FAILED, failed.status());
        assertEquals("deliberate guest failure ==> expected: <1> but was: <2>", failed.message());
        assertTrue(failed.detail().contains("TmpFailLabTest.java"), failed.detail());
        GuestTestResult skipped = byName.get("TmpFailLabTest.skipped()");
        assertEquals(GuestTestResult.Status.SKIPPED, skipped.status());
        assertTrue(skipped.message().contains("deliberately skipped"), skipped.message());
    }

    @Test
    void replaysFailuresAndSkipsAsHostOutcomes(@TempDir Path dir) throws Throwable {
        List<DynamicNode> classes = GuestJUnit.dynamicTests(fixture(dir)).toList();
        DynamicContainer tmp = classes.stream().filter(c -> c.getDisplayName().equals("[lab] TmpFailLabTest"))
                .map(DynamicContainer.class::cast).findFirst().orElseThrow();
        Map<String, DynamicTest> tests = tmp.getChildren().map(DynamicTest.class::cast)
                .collect(Collectors.toMap(DynamicNode::getDisplayName, t -> t));
        AssertionFailedError failure = assertThrows(AssertionFailedError.class, () -> tests.get("fails()").getExecutable().execute());
        assertTrue(failure.getMessage().contains("deliberate guest failure"), failure.getMessage());
        assertTrue(failure.getMessage().contains("guest stack trace"), failure.getMessage());
        Throwable skip = assertThrows(Throwable.class, () -> tests.get("skipped()").getExecutable().execute());
        assertInstanceOf(TestAbortedException.class, skip);
    }

    @Test
    void missingReportsMeanNoResults(@TempDir Path dir) {
        assertTrue(GuestJUnit.parseReports(dir.resolve("absent")).isEmpty());
    }
}
