package io.isthmus.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The lab's own contract, without Java in the guest: exit status and files come back; a hang is killed. */
class QemuLabTest {

    @Test
    void returnsTheCommandsExitStatusAndItsFiles(@TempDir Path dir) throws IOException {
        try (QemuLab lab = QemuLab.create()) {
            LabRun run = lab.run(dir.resolve("share"),
                    "echo from-guest > /mnt/lab/out/hello.txt\nls /dev/vfio > /mnt/lab/out/vfio.txt\nexit 3\n");
            assertEquals(3, run.exitStatus(), run.consoleTail(30));
            assertEquals("from-guest", Files.readString(run.outDir().resolve("hello.txt")).strip());
            assertTrue(Files.readString(run.outDir().resolve("vfio.txt")).contains("vfio"), run.consoleTail(30));
            assertTrue(run.readyAt() != null && run.exitAt() != null && run.exitAt() >= run.readyAt());
        }
    }

    @Test
    void aGuestThatDoesNotPowerOffIsKilledAndReported(@TempDir Path dir) {
        LabConfig base = LabConfig.fromSystemProperties();
        LabConfig quick = new LabConfig(base.cacheDir(), base.jdkHome(), base.jdkModules(), base.memoryMiB(),
                base.cpus(), Duration.ofSeconds(3));
        try (QemuLab lab = QemuLab.create(quick)) {
            LabException e = assertThrows(LabException.class, () -> lab.run(dir.resolve("share"), "sleep 1000\n"));
            assertTrue(e.getMessage().contains("did not power off within 3 s"), e.getMessage());
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
