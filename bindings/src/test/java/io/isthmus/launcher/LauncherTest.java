package io.isthmus.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/isthmus}'s own behaviour: usage, unknown commands and JDK discovery. These paths never build, so
 * they run here, before any runnable module exists.
 */
class LauncherTest {
    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();
    private static final Path LAUNCHER = ROOT.resolve("bin/isthmus");

    record Result(int status, String out, String err) {}

    private static Result run(Map<String, String> env, String... args) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder();
        pb.command().add(LAUNCHER.toString());
        pb.command().addAll(List.of(args));
        pb.environment().putAll(env);
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "bin/isthmus did not finish");
        return new Result(p.exitValue(), out, err);
    }

    @Test
    void helpListsEveryCommand() throws Exception {
        Result r = run(Map.of(), "--help");
        assertEquals(0, r.status());
        for (String cmd : List.of("vmm", "vfio", "sched", "bench")) {
            assertTrue(r.out().contains("\n  " + cmd + " "), "help lacks " + cmd + ":\n" + r.out());
        }
    }

    @Test
    void unknownCommandIsOneLineAndStatus2() throws Exception {
        Result r = run(Map.of(), "frobnicate");
        assertEquals(2, r.status());
        assertEquals("isthmus: unknown command 'frobnicate' (try 'isthmus --help')\n", r.err());
        assertEquals("", r.out());
    }

    @Test
    void noArgumentsPrintsUsageWithStatus2() throws Exception {
        Result r = run(Map.of());
        assertEquals(2, r.status());
        assertTrue(r.out().startsWith("Usage: isthmus <command>"), r.out());
    }

    @Test
    void missingJdk25SaysWhatToInstall(@TempDir Path emptyJvmDir) throws Exception {
        Result r = run(Map.of("JAVA_HOME", "/usr/lib/jvm/java-17-openjdk-amd64",
                "ISTHMUS_JVM_DIR", emptyJvmDir.toString()), "vmm");
        assertEquals(1, r.status());
        assertTrue(r.err().startsWith("isthmus: no JDK 25 or newer found"), r.err());
        assertTrue(r.err().contains("temurin-25-jdk"), r.err());
        assertTrue(r.err().contains("JAVA_HOME"), r.err());
        assertTrue(!r.err().contains("Exception"), r.err());
    }

    @Test
    void jdkSearchPrefersAQualifyingJavaHomeAndOtherwiseTheNewestInstalled(@TempDir Path jvms) throws Exception {
        for (String[] jdk : new String[][] {{"old", "17.0.2"}, {"new", "26"}, {"mid", "25.0.1"}}) {
            Path home = Files.createDirectories(jvms.resolve(jdk[0]).resolve("bin"));
            Files.writeString(home.getParent().resolve("release"), "JAVA_VERSION=\"" + jdk[1] + "\"\n");
            Path java = Files.writeString(home.resolve("java"), "#!/bin/sh\n");
            java.toFile().setExecutable(true);
        }
        String script = "source " + ROOT.resolve("bin/lib/common.sh") + "; find_jdk; echo $JAVA_HOME";
        assertEquals(jvms.resolve("new") + "\n", bash(script, Map.of("ISTHMUS_JVM_DIR", jvms.toString(),
                "JAVA_HOME", jvms.resolve("old").toString())));
        assertEquals(jvms.resolve("mid") + "\n", bash(script, Map.of("ISTHMUS_JVM_DIR", jvms.toString(),
                "JAVA_HOME", jvms.resolve("mid").toString())));
    }

    private static String bash(String script, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", script);
        pb.environment().putAll(env);
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }
}
