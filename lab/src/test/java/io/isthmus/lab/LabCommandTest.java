package io.isthmus.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The guest script a {@link LabCommand} runs, checked as text; {@link LabFallbackTest} runs one in the lab. The
 * script goes through busybox's sh there, which is also what {@code sh -n} here parses it as.
 */
class LabCommandTest {

    @Test
    void argumentsAndEnvironmentReachTheGuestAsOneWordEach() throws Exception {
        String script = LabCommand.of(List.of("java", "-jar", "it's mine.jar", "$HOME", "a\"b"))
                .env("GREETING", "it's `x` $y").workingDirectory(Path.of("/work/some dir")).script();
        assertTrue(script.contains("'java' '-jar' 'it'\\''s mine.jar' '$HOME' 'a\"b' <>\"$io\" >&0\n"), script);
        assertTrue(script.contains("export GREETING='it'\\''s `x` $y'\n"), script);
        assertTrue(script.contains("cd '/work/some dir' 2>/dev/null || cd /host'/work/some dir' || cd /\n"), script);
        Process sh = new ProcessBuilder("sh", "-n").start();
        sh.getOutputStream().write(script.getBytes());
        sh.getOutputStream().close();
        String err = new String(sh.getErrorStream().readAllBytes());
        assertEquals(0, sh.waitFor(), "sh -n: " + err);
    }

    @Test
    void systemDirectoriesStayTheGuestsAndTheRestAreTheHosts() {
        String script = LabCommand.of(List.of("true")).script();
        assertTrue(script.contains("case \"$n\" in bin|sbin|lib|lib32|lib64|libx32|usr|etc|dev|proc|sys|run|jdk|mnt"
                + "|host|init|lost+found) continue ;; esac"), script);
        assertTrue(script.contains("mount -o bind \"$d\" \"/$n\""), script);
        assertTrue(script.contains(QemuLab.STDIO_PORT + ") io=") && script.contains(QemuLab.STDERR_PORT + ") err="),
                script);
    }

    @Test
    void badNamesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> LabCommand.of(List.of()));
        assertThrows(IllegalArgumentException.class, () -> LabCommand.of(List.of("x")).env("A-B", "1"));
        assertThrows(IllegalArgumentException.class, () -> LabCommand.of(List.of("x")).share("out", Path.of("/")));
        assertThrows(IllegalArgumentException.class, () -> LabCommand.of(List.of("x")).share("../x", Path.of("/")));
    }
}
