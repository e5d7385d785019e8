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
 * @param timeout     how long one batch run (boot, command, power-off) may take before QEMU is killed
 * @param bootTimeout how long the guest may take to get ready (modules loaded, shares mounted) before QEMU is
 *                    killed; attached runs ({@link QemuLab#runAttached}) have only this limit
 */
public record LabConfig(Path cacheDir, Path jdkHome, List<String> jdkModules, int memoryMiB, int cpus,
                        Duration timeout, Duration bootTimeout) {

    /**
     * The JDK modules the guest runtime carries: what the JUnit Platform console launcher needs
     * ({@code jdeps} on it says java.base and java.sql; java.sql brings java.logging and java.xml, which
     * the launcher's logging and XML reports use), jdk.unsupported for libraries that still touch it, jdk.zipfs
     * for scanning test jars, and java.management with jdk.management for the allocation counts of the kvm tests
     * and JMH's {@code -prof gc}; jdk.jfr and java.desktop for the scheduler's module (its JFR events, its charts),
     * which the VMM's vGPU device brings onto the module path.
     */
    public static final List<String> DEFAULT_JDK_MODULES = List.of("java.base", "java.logging", "java.xml",
            "java.sql", "jdk.unsupported", "jdk.zipfs", "java.management", "jdk.management", "jdk.jfr", "java.desktop");

    public LabConfig {
        jdkModules = List.copyOf(jdkModules);
        if (memoryMiB < 256) {
            throw new IllegalArgumentException("isthmus.lab.memory: at least 256 MiB, got " + memoryMiB);
        }
        if (cpus < 1) {
            throw new IllegalArgumentException("isthmus.lab.cpus: at least 1, got " + cpus);
        }
        if (timeout.isNegative() || timeout.isZero() || bootTimeout.isNegative() || bootTimeout.isZero()) {
            throw new IllegalArgumentException("isthmus.lab.timeoutSeconds and isthmus.lab.bootTimeoutSeconds must be"
                    + " positive, got " + timeout.toSeconds() + " and " + bootTimeout.toSeconds());
        }
    }

    /** This configuration with another batch-run timeout. */
    public LabConfig withTimeout(Duration newTimeout) {
        return new LabConfig(cacheDir, jdkHome, jdkModules, memoryMiB, cpus, newTimeout, bootTimeout);
    }

    /** This configuration with another boot timeout. */
    public LabConfig withBootTimeout(Duration newBootTimeout) {
        return new LabConfig(cacheDir, jdkHome, jdkModules, memoryMiB, cpus, timeout, newBootTimeout);
    }

    /**
     * The configuration from system properties, with defaults: cache {@code ~/.cache/isthmus-lab} (or
     * {@code $ISTHMUS_LAB_CACHE}), the running JDK, 1 GiB, 1 CPU, 40 minutes a run (the KVM and VMM suites run in
     * one boot where the host has no KVM), 5 minutes to get ready (a few seconds normally).
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
                Duration.ofSeconds(Long.getLong("isthmus.lab.timeoutSeconds", 2400)),
                Duration.ofSeconds(Long.getLong("isthmus.lab.bootTimeoutSeconds", 300)));
    }
}
