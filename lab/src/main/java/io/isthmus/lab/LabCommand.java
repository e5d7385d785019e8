package io.isthmus.lab;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * A command run in the lab guest as if on this host: its standard streams are this process's, it starts in this
 * process's working directory, and the host's files are at their own paths there (the host's root directory is
 * shared, and every top-level directory the guest does not need for itself is bind-mounted over the guest's,
 * {@code /tmp} and {@code /home} included; {@code /usr}, {@code /etc} and the other system directories stay the
 * guest's). Files the command needs that live outside those directories, or that must not be seen to change
 * (jars being rebuilt on the host), go in the run's share with {@link #share}.
 *
 * <p>This is how {@code bin/isthmus vmm} and {@code bin/isthmus bench} run KVM work on a host without
 * {@code /dev/kvm}: the lab guest has KVM (nested, under QEMU's TCG: slower, but real).
 *
 * <p>Not thread-safe; build one, {@link #run} it once.
 */
public final class LabCommand {
    /** What {@link #run} returns when the lab itself failed (the command's own statuses are 0 to 255). */
    public static final int LAB_FAILED = 125;

    /** Host top-level directories the guest keeps its own of; every other one is the host's, at its own path. */
    static final List<String> GUEST_OWNED = List.of("bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc",
            "dev", "proc", "sys", "run", "jdk", "mnt", "host", "init", "lost+found");

    private final List<String> argv;
    private final Map<String, String> env = new LinkedHashMap<>();
    private final Map<String, Path> shared = new LinkedHashMap<>();
    private final List<String> prelude = new ArrayList<>();
    private Path workingDirectory = Path.of("").toAbsolutePath();

    private LabCommand(List<String> argv) {
        if (argv.isEmpty()) {
            throw new IllegalArgumentException("no command to run in the lab");
        }
        this.argv = List.copyOf(argv);
    }

    /** {@code argv} as the guest runs it; {@code /mnt/lab/NAME} names what {@link #share} put there. */
    public static LabCommand of(List<String> argv) {
        return new LabCommand(argv);
    }

    /** Sets {@code name=value} in the command's environment. */
    public LabCommand env(String name, String value) {
        if (!name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
            throw new IllegalArgumentException("not an environment variable name: " + name);
        }
        env.put(name, Objects.requireNonNull(value));
        return this;
    }

    /** Copies {@code file} (a file, or a directory's files) to {@code /mnt/lab/NAME} before the guest boots. */
    public LabCommand share(String name, Path file) {
        if (!name.matches("[A-Za-z0-9._-]+") || name.equals("out") || name.equals("run.sh")) {
            throw new IllegalArgumentException("not a share name: " + name);
        }
        shared.put(name, file);
        return this;
    }

    /** A shell line (busybox sh) run before the command, in the same directory; e.g. bringing up loopback. */
    public LabCommand before(String line) {
        prelude.add(line);
        return this;
    }

    /** The directory the command starts in (default: this process's). */
    public LabCommand workingDirectory(Path dir) {
        this.workingDirectory = dir.toAbsolutePath();
        return this;
    }

    /**
     * Boots the lab, runs the command attached to this process's standard streams and returns its exit status, or
     * {@link #LAB_FAILED} after printing why on standard error when the lab itself failed.
     *
     * @param runDir a host directory for this run's share and logs
     */
    public int run(QemuLab lab, Path runDir) {
        try {
            Path share = runDir.toAbsolutePath().resolve("share");
            Cache.deleteTree(share);
            Files.createDirectories(share);
            for (Map.Entry<String, Path> e : shared.entrySet()) {
                copy(e.getValue(), share.resolve(e.getKey()));
            }
            LabRun run = lab.runAttached(share, script());
            if (run.exitStatus() == LAB_FAILED) {
                // The script's own failures before the streams were set up went to the console.
                String why = run.console().lines().filter(l -> l.startsWith("isthmus-lab: "))
                        .collect(Collectors.joining("\n"));
                System.err.println(why.isEmpty() ? "isthmus-lab: the command could not be started in the lab guest;"
                        + " its console is " + run.consoleLog() : why);
            }
            return run.exitStatus();
        } catch (LabException e) {
            System.err.println("isthmus-lab: " + e.getMessage());
            return LAB_FAILED;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The guest script: the host's file system, the ports, the directory, the environment, the command. */
    String script() {
        StringBuilder s = new StringBuilder();
        s.append("# Made by io.isthmus.lab.LabCommand: runs one command as if on the host.\n");
        s.append("mkdir -p /host && mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none ")
                .append(QemuLab.HOST_TAG).append(" /host || { echo 'isthmus-lab: cannot mount the host file system'")
                .append(" >&2; exit ").append(LAB_FAILED).append("; }\n");
        s.append("for d in /host/*; do\n")
                .append("    n=${d#/host/}\n")
                .append("    case \"$n\" in ").append(String.join("|", GUEST_OWNED)).append(") continue ;; esac\n")
                .append("    [ -d \"$d\" ] && [ ! -L \"$d\" ] || continue\n")
                .append("    mkdir -p \"/$n\" && mount -o bind \"$d\" \"/$n\"\n")
                .append("done\n");
        s.append("io= err=\n")
                .append("for p in /sys/class/virtio-ports/*; do\n")
                .append("    case \"$(cat \"$p/name\")\" in\n")
                .append("        ").append(QemuLab.STDIO_PORT).append(") io=/dev/${p##*/} ;;\n")
                .append("        ").append(QemuLab.STDERR_PORT).append(") err=/dev/${p##*/} ;;\n")
                .append("    esac\n")
                .append("done\n")
                .append("[ -n \"$io\" ] && [ -n \"$err\" ] || { echo 'isthmus-lab: no virtio ports for the command")
                .append(" streams' >&2; exit ").append(LAB_FAILED).append("; }\n")
                // From here on the script's own complaints reach the user, as the command's do.
                .append("exec 2>\"$err\"\n");
        String dir = quote(workingDirectory.toString());
        s.append("cd ").append(dir).append(" 2>/dev/null || cd /host").append(dir).append(" || cd /\n");
        for (Map.Entry<String, String> e : env.entrySet()) {
            s.append("export ").append(e.getKey()).append('=').append(quote(e.getValue())).append('\n');
        }
        for (String line : prelude) {
            s.append(line).append('\n');
        }
        // A virtio console port opens once: stdin and stdout share one read-write descriptor.
        s.append(argv.stream().map(LabCommand::quote).collect(Collectors.joining(" "))).append(" <>\"$io\" >&0\n");
        return s.toString();
    }

    /** {@code s} as one shell word. */
    static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    private static void copy(Path from, Path to) throws IOException {
        if (Files.isDirectory(from)) {
            Files.createDirectories(to);
            try (var files = Files.list(from)) {
                for (Path f : files.toList()) {
                    if (Files.isRegularFile(f)) {
                        Files.copy(f, to.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING,
                                StandardCopyOption.COPY_ATTRIBUTES);
                    }
                }
            }
        } else if (Files.isRegularFile(from)) {
            Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.COPY_ATTRIBUTES);
        } else {
            throw new LabException(from + " does not exist: it was to be copied into the lab for the command");
        }
    }
}
