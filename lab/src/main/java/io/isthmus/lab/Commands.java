package io.isthmus.lab;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs short host commands (apt-get, dpkg, ldd, jlink, cpio) and turns their failures into {@link LabException}s. */
final class Commands {
    private Commands() {}

    /** Runs {@code command} in {@code dir}; returns its stdout, or throws with its output and {@code hint}. */
    static String run(Path dir, List<String> command, String hint) {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        if (dir != null) {
            pb.directory(dir.toFile());
        }
        try {
            Process p = pb.start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new LabException(String.join(" ", command) + " did not finish in 10 minutes. " + hint);
            }
            String text = new String(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new LabException(String.join(" ", command) + " failed with exit status " + p.exitValue()
                        + ":\n" + text.strip() + "\n" + hint);
            }
            return text;
        } catch (IOException e) {
            throw new LabException("cannot run " + command.getFirst() + " (" + e.getMessage() + "). " + hint, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LabException("interrupted while running " + String.join(" ", command), e);
        }
    }

    /** The absolute path of {@code program} on {@code $PATH}, or null. */
    static Path which(String program) {
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        for (String dir : (path + ":/usr/sbin:/sbin").split(":")) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir, program);
            if (java.nio.file.Files.isExecutable(candidate)) {
                return candidate.toAbsolutePath();
            }
        }
        return null;
    }

    /** {@link #which}, or a {@link LabException} naming the Debian package that provides {@code program}. */
    static Path require(String program, String debianPackage) {
        Path p = which(program);
        if (p == null) {
            throw new LabException(program + " not found on PATH: the lab needs Debian's " + debianPackage
                    + " package. Install it with: sudo apt-get install -y " + debianPackage
                    + " (bin/test installs it when run as root).");
        }
        return p;
    }
}
