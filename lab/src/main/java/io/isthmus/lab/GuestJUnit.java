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
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * Runs JUnit tests inside the lab guest with the JUnit Platform console launcher and brings each result back
 * as a host-side {@link DynamicNode}, so a test that fails in the guest fails the host build with the guest's
 * message and stack trace.
 *
 * <p>The classpath (jars and class directories) is copied into the run's 9p share; the launcher, on the JVM's class
 * path with it, scans the {@code scanRoots} for test classes carrying one of the included tags ({@value #TAG}, and
 * {@value #KVM_TAG} where the host has no KVM: see {@link #includeTags}), or runs the selection given by the
 * {@code isthmus.lab.select} system property, console-launcher syntax, e.g.
 * {@code --select-class=io.isthmus.lab.guest.KvmLabTest}, with {@code --enable-native-access=ALL-UNNAMED},
 * and writes its XML report to the share, which is parsed here.
 *
 * <p>Not thread-safe; one instance per run.
 */
public final class GuestJUnit {
    /** The tag that marks a test class (or method) as one that runs inside the lab guest. */
    public static final String TAG = "lab";
    /**
     * The tag of tests that need KVM: they run on the host's {@code /dev/kvm} where it has one, else in the lab
     * guest, on its nested KVM (the build decides; see the root pom's {@code kvm-in-lab} profile).
     */
    public static final String KVM_TAG = "kvm";

    /**
     * The guest test JVM's options besides the class path ({@code isthmus.lab.jvmOptions} replaces them): the full
     * JIT, since the tests run for minutes and the kvm tests check that hot paths allocate nothing, which needs C2's
     * escape analysis as on any production JVM; the serial collector on the guest's one CPU.
     */
    static final String JVM_OPTIONS = "-XX:+UseSerialGC";

    private final QemuLab lab;
    private final Path launcherJar;
    private final List<Path> classpath;
    private final List<Path> scanRoots;
    private List<String> includeTags = List.of(TAG);
    private LabRun lastRun;

    private GuestJUnit(QemuLab lab, Path launcherJar, List<Path> classpath, List<Path> scanRoots) {
        this.lab = lab;
        this.launcherJar = launcherJar;
        this.classpath = List.copyOf(classpath);
        this.scanRoots = List.copyOf(scanRoots);
        if (!Files.isRegularFile(launcherJar)) {
            throw new LabException("the JUnit console launcher " + launcherJar + " is missing: the module's pom"
                    + " copies org.junit.platform:junit-platform-console-standalone there (see io.isthmus.lab's"
                    + " package documentation)");
        }
        for (Path root : scanRoots) {
            if (!classpath.contains(root)) {
                throw new IllegalArgumentException("scan root " + root + " is not on the classpath " + classpath);
            }
        }
    }

    /**
     * Tests in {@code scanRoots} (directories or jars, each also on {@code classpath}), run with
     * {@code classpath} by the console launcher {@code launcherJar}.
     */
    public static GuestJUnit of(QemuLab lab, Path launcherJar, List<Path> classpath, List<Path> scanRoots) {
        return new GuestJUnit(lab, launcherJar, classpath, scanRoots);
    }

    /**
     * The Maven layout the lab's pom sets up in {@code target}: {@code lab/junit-platform-console-standalone.jar},
     * {@code lab/classpath.txt} (the test classpath without JUnit's own jars, which the launcher carries),
     * {@code classes} and {@code test-classes}, whose tests are the ones run, together with those of every
     * other module's test jar on the classpath (a {@code test-jar} dependency: {@code *-tests.jar}, or that
     * module's {@code test-classes} when Maven resolves it inside the reactor before packaging).
     */
    public static GuestJUnit ofMavenBuild(QemuLab lab, Path targetDir) {
        try {
            Path cpFile = targetDir.resolve("lab/classpath.txt");
            if (!Files.isRegularFile(cpFile)) {
                throw new LabException(cpFile + " is missing: the module's pom must run dependency:build-classpath"
                        + " into it (see io.isthmus.lab's package documentation)");
            }
            List<Path> cp = new ArrayList<>();
            cp.add(targetDir.resolve("test-classes"));
            cp.add(targetDir.resolve("classes"));
            List<Path> scan = new ArrayList<>(List.of(targetDir.resolve("test-classes")));
            for (String entry : Files.readString(cpFile).strip().split(":")) {
                if (!entry.isBlank()) {
                    Path path = Path.of(entry);
                    cp.add(path);
                    if (entry.endsWith("-tests.jar") || path.endsWith(Path.of("target", "test-classes"))) {
                        scan.add(path);
                    }
                }
            }
            return of(lab, targetDir.resolve("lab/junit-platform-console-standalone.jar"), cp, scan);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The tags whose tests run (any of them); {@value #TAG} alone unless changed. Returns this.
     *
     * @param tags e.g. {@code [lab, kvm]}, from the build's {@code isthmus.lab.tags}
     */
    public GuestJUnit includeTags(List<String> tags) {
        if (tags.isEmpty() || tags.stream().anyMatch(t -> !t.matches("[A-Za-z0-9_.-]+"))) {
            throw new IllegalArgumentException("tags must be plain names, at least one: " + tags);
        }
        this.includeTags = List.copyOf(tags);
        return this;
    }

    /**
     * Boots the lab once, runs the tests and returns their results, in report order.
     *
     * @param runDir a host directory for this run (its {@code share} subdirectory becomes {@code /mnt/lab})
     * @throws LabException when the guest fails or the launcher writes no report
     */
    public List<GuestTestResult> run(Path runDir) {
        try {
            Path share = runDir.toAbsolutePath().resolve("share");
            Cache.deleteTree(share);
            Path cpDir = Files.createDirectories(share.resolve("cp"));
            Map<Path, String> guestPaths = new LinkedHashMap<>();
            int i = 0;
            for (Path entry : classpath) {
                if (!Files.exists(entry)) {
                    continue; // e.g. a module without main classes; the JVM would skip it too
                }
                String name = String.format("%02d-%s", i++, entry.getFileName());
                copy(entry, cpDir.resolve(name));
                guestPaths.put(entry, "/mnt/lab/cp/" + name);
            }
            Files.copy(launcherJar, share.resolve("junit-console.jar"), StandardCopyOption.REPLACE_EXISTING);
            List<String> roots = scanRoots.stream().map(guestPaths::get).filter(p -> p != null).toList();
            if (roots.isEmpty()) {
                throw new LabException("none of the scan roots " + scanRoots + " exists: no tests to run in the lab");
            }
            String select = System.getProperty("isthmus.lab.select", "");
            StringBuilder selection = new StringBuilder();
            if (select.isBlank()) {
                selection.append("--scan-class-path ").append(String.join(":", roots));
                includeTags.forEach(t -> selection.append(" --include-tag ").append(t));
            } else {
                selection.append(select);
            }
            // The tests on the JVM's own class path (not the launcher's --class-path loader), so that a test can
            // start another JVM with java.class.path as the command line would.
            String script = "java -Xshare:auto " + System.getProperty("isthmus.lab.jvmOptions", JVM_OPTIONS)
                    + " --enable-native-access=ALL-UNNAMED -Disthmus.lab.guest=true"
                    + " -cp /mnt/lab/junit-console.jar:" + String.join(":", guestPaths.values())
                    + " org.junit.platform.console.ConsoleLauncher execute --disable-banner --disable-ansi-colors"
                    + " --details=tree --fail-if-no-tests"
                    + " " + selection
                    + " --reports-dir /mnt/lab/out/reports\n";
            LabRun run = lab.run(share, script);
            lastRun = run;
            // The launcher only warns when it cannot read a scan root (a test jar without jdk.zipfs, say) and then
            // runs the rest: a whole module's lab tests would vanish without a failure.
            for (String line : Files.readAllLines(run.consoleLog())) {
                if (line.contains("Error scanning files for URI")) {
                    throw new LabException("the JUnit console launcher in the lab guest could not scan a test root ("
                            + line.strip() + "); its tests did not run. Console " + run.consoleLog());
                }
            }
            List<GuestTestResult> results = parseReports(run.outDir().resolve("reports"));
            if (results.isEmpty()) {
                throw new LabException("the JUnit console launcher in the lab guest reported no tests (exit status "
                        + run.exitStatus() + "); tests must be tagged @Tag(\"" + TAG + "\"). Console "
                        + run.consoleLog() + ", last lines:\n" + run.consoleTail(60));
            }
            return results;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The lab run behind the last {@link #run}'s results (its console and timings), or null before one. */
    public LabRun lastRun() {
        return lastRun;
    }

    /**
     * One container per guest test class holding one host test per guest test: it passes, fails with the
     * guest's message and stack trace, or is aborted (skipped) with the guest's reason.
     */
    public static Stream<DynamicNode> dynamicTests(List<GuestTestResult> results) {
        Map<String, List<GuestTestResult>> byClass = new LinkedHashMap<>();
        for (GuestTestResult r : results) {
            byClass.computeIfAbsent(r.className(), k -> new ArrayList<>()).add(r);
        }
        return byClass.values().stream().map(list -> DynamicContainer.dynamicContainer(
                "[lab] " + list.getFirst().simpleClassName(),
                list.stream().map(r -> DynamicTest.dynamicTest(r.name(), () -> replay(r)))));
    }

    private static void replay(GuestTestResult r) {
        switch (r.status()) {
            case PASSED -> { }
            case SKIPPED -> org.junit.jupiter.api.Assumptions.abort("skipped in the lab guest: " + r.message());
            case FAILED -> Assertions.fail("in the lab guest, " + r.className() + "." + r.name() + " failed: "
                    + r.message() + "\n--- guest stack trace ---\n" + r.detail());
        }
    }

    /** Parses every {@code TEST-*.xml} (JUnit's legacy XML format) in {@code reports}. */
    static List<GuestTestResult> parseReports(Path reports) {
        List<GuestTestResult> results = new ArrayList<>();
        if (!Files.isDirectory(reports)) {
            return results;
        }
        try (Stream<Path> s = Files.list(reports)) {
            for (Path xml : s.filter(p -> p.getFileName().toString().matches("TEST-.*\\.xml")).sorted().toList()) {
                DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
                f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
                Document doc = f.newDocumentBuilder().parse(xml.toFile());
                NodeList cases = doc.getElementsByTagName("testcase");
                for (int i = 0; i < cases.getLength(); i++) {
                    results.add(toResult((Element) cases.item(i)));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (Exception e) {
            throw new LabException("cannot parse the lab guest's JUnit report in " + reports + ": " + e, e);
        }
        return results;
    }

    private static GuestTestResult toResult(Element tc) {
        GuestTestResult.Status status = GuestTestResult.Status.PASSED;
        String message = "";
        String detail = "";
        for (String tag : List.of("failure", "error", "skipped")) {
            NodeList nl = tc.getElementsByTagName(tag);
            if (nl.getLength() > 0) {
                Element e = (Element) nl.item(0);
                status = tag.equals("skipped") ? GuestTestResult.Status.SKIPPED : GuestTestResult.Status.FAILED;
                message = e.getAttribute("message");
                detail = e.getTextContent().strip();
                if (message.isEmpty()) {
                    // Skips carry their reason only in the stack trace's first line.
                    message = detail.lines().findFirst().orElse("");
                }
                break;
            }
        }
        double seconds = 0;
        try {
            seconds = Double.parseDouble(tc.getAttribute("time").replace(",", ""));
        } catch (NumberFormatException ignored) {
            // the report's time is informational only
        }
        return new GuestTestResult(tc.getAttribute("classname"), tc.getAttribute("name"), status, message, detail,
                seconds);
    }

    private static void copy(Path from, Path to) throws IOException {
        if (Files.isDirectory(from)) {
            try (Stream<Path> s = Files.walk(from)) {
                for (Path p : s.toList()) {
                    Path target = to.resolve(from.relativize(p).toString());
                    if (Files.isDirectory(p)) {
                        Files.createDirectories(target);
                    } else {
                        Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
        } else {
            Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
