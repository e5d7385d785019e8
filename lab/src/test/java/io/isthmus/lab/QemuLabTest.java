package io.isthmus.lab;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lab's failure paths. (Its success path, exit status and files coming back through the share, is checked by
 * {@link LabSuiteTest} on its one full boot, so a test run boots the lab once.)
 */
class QemuLabTest {

    @Test
    void aGuestThatDoesNotPowerOffIsKilledAndReported(@TempDir Path dir) {
        LabConfig base = LabConfig.fromSystemProperties();
        LabConfig quick = base.withTimeout(Duration.ofSeconds(3));
        try (QemuLab lab = QemuLab.create(quick)) {
            LabException e = assertThrows(LabException.class, () -> lab.run(dir.resolve("share"), "sleep 1000\n"));
            assertTrue(e.getMessage().contains("did not power off within 3 s"), e.getMessage());
            assertTrue(e.getMessage().contains("last lines:"), e.getMessage());
        }
    }

    @Test
    void aGuestThatIsNotReadyInTimeIsStoppedAndReported(@TempDir Path dir) {
        LabConfig quick = LabConfig.fromSystemProperties().withBootTimeout(Duration.ofSeconds(1));
        try (QemuLab lab = QemuLab.create(quick)) {
            LabException e = assertThrows(LabException.class, () -> lab.runAttached(dir.resolve("share"), "true\n"));
            assertTrue(e.getMessage().contains("did not get ready within 1 s"), e.getMessage());
            assertTrue(e.getMessage().contains("last lines:"), e.getMessage());
        }
    }

    @Test
    void aMissingToolNamesTheDebianPackageToInstall() {
        LabException e = assertThrows(LabException.class,
                () -> Commands.require("qemu-system-nonexistent", "qemu-system-x86"));
        assertTrue(e.getMessage().contains("apt-get install -y qemu-system-x86"), e.getMessage());
    }
}
