package io.isthmus.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A user who may not open {@code /dev/kvm} gets one line naming the device and the fix. Runs a real process as
 * {@code nobody} (the suite runs as root in CI; as any other user the same denial comes without setpriv).
 */
@Tag("kvm")
class KvmPermissionTest {

    /** Entry point run as an unprivileged user: prints what {@link Kvm#open()} reports, as the launchers do. */
    public static final class Probe {
        public static void main(String[] args) {
            try (Kvm kvm = Kvm.open()) {
                System.out.println("opened, API " + kvm.apiVersion());
            } catch (Kvm.KvmUnavailableException e) {
                System.err.println(e.getMessage());
                System.exit(1);
            }
        }
    }

    @Test
    void deniedOpenNamesTheDeviceAndTheFix(@TempDir Path tmp) throws Exception {
        boolean root = "root".equals(System.getProperty("user.name"));
        Assumptions.assumeTrue(root || !Files.isWritable(Path.of("/dev/kvm")),
                "this user may open /dev/kvm and cannot drop privileges, so there is no denial to observe");
        // Copy the classes somewhere nobody may read them from otherwise (the checkout may sit in root's home, the
        // lab's share is root's): wherever they were loaded from, a directory or a jar, on the host or in the lab.
        Path cp = tmp.resolve("cp");
        Files.createDirectories(cp);
        int n = 0;
        for (Class<?> c : List.of(Kvm.class, Probe.class, io.isthmus.sys.Libc.class, org.slf4j.LoggerFactory.class)) {
            Path from = Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path to = cp.resolve("e" + n++ + (Files.isDirectory(from) ? "" : ".jar"));
            if (Files.isDirectory(from)) {
                copyTree(from, to);
            } else {
                Files.copy(from, to);
            }
        }
        openUp(tmp);
        List<String> cmd = new ArrayList<>();
        if (root) {
            cmd.addAll(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"));
        }
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-cp");
        try (Stream<Path> dirs = Files.list(cp)) {
            cmd.add(String.join(java.io.File.pathSeparator, dirs.map(Path::toString).toList()));
        }
        cmd.add(Probe.class.getName());
        Process p = new ProcessBuilder(cmd).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(1, p.exitValue(), out + err);
        assertEquals("no permission to open /dev/kvm: add your user to the kvm group (sudo usermod -aG kvm $USER,"
                + " then log in again) or run as root.\n", err);
    }

    private static void copyTree(Path src, Path dst) throws IOException {
        try (Stream<Path> files = Files.walk(src)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Path to = dst.resolve(src.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(f, to, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    private static void openUp(Path root) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(
                        Files.isDirectory(f) ? "rwxr-xr-x" : "rw-r--r--"));
            }
        }
    }
}
