package io.isthmus.lab;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * How the lab is built and booted: where its cache lives, the JDK it jlinks, the guest's size and how long
 * a run may take.
 *
 * <p>{@link #fromSystemProperties()} reads the {@code isthmus.lab.*} system properties (documented in the
 * {@linkplain io.isthmus.lab package overview}). Immutable; safe to share between threads.
 *
 * @param cacheDir    where Debian packages, unpacked kernels and built images are kept, keyed by content
 * @param jdkHome     the JDK 25 whose {@code jlink} builds the guest's Java runtime
 * @param jdkModules  the JDK modules the guest runtime contains
 * @param memoryMiB   guest memory
 * @param cpus        guest CPUs ({@code -smp}); under TCG each is a host thread
 * @param timeout     how long one run (boot, command, power-off) may take before QEMU is killed
 */
public record LabConfig(Path cacheDir, Path jdkHome, List<String> jdkModules, int memoryMiB, int cpus,
                        Duration timeout) {

    /**
     * The JDK modules the guest runtime carries: what the JUnit Platform console launcher needs
     * ({@code jdeps} on it says java.base and java.sql; java.sql brings java.logging and java.xml, which
     * the launcher's logging and XML reports use) plus jdk.unsupported for libraries that still touch it.
     */
    public static final List<String> DEFAULT_JDK_MODULES =
            List.of("java.base", "java.logging", "java.xml", "java.sql", "jdk.unsupported", "jdk.zipfs");

    public LabConfig {
        jdkModules = List.copyOf(jdkModules);
        if (memoryMiB < 256) {
            throw new IllegalArgumentException("isthmus.lab.memory: at least 256 MiB, got " + memoryMiB);
        }
        if (cpus < 1) {
            throw new IllegalArgumentException("isthmus.lab.cpus: at least 1, got " + cpus);
        }
    }

    /**
     * The configuration from system properties, with defaults: cache {@code ~/.cache/isthmus-lab} (or
     * {@code $ISTHMUS_LAB_CACHE}), the running JDK, 1 GiB, 1 CPU, 10 minutes.
     */
    public static LabConfig fromSystemProperties() {
        String env = System.getenv("ISTHMUS_LAB_CACHE");
        Path cache = Path.of(System.getProperty("isthmus.lab.cache",
                env != null && !env.isBlank() ? env : System.getProperty("user.home") + "/.cache/isthmus-lab"));
        Path jdk = Path.of(System.getProperty("isthmus.lab.jdk", System.getProperty("java.home")));
        String modules = System.getProperty("isthmus.lab.jdkModules");
        return new LabConfig(cache.toAbsolutePath(), jdk,
                modules == null ? DEFAULT_JDK_MODULES : List.of(modules.split(",")),
                Integer.getInteger("isthmus.lab.memory", 1024),
                Integer.getInteger("isthmus.lab.cpus", 1),
                Duration.ofSeconds(Long.getLong("isthmus.lab.timeoutSeconds", 600)));
    }
}
