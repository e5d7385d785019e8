package io.isthmus.bindings;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.SequenceLayout;
import java.lang.foreign.StructLayout;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URI;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Checks the jextract output and the hand-kept ioctl tables against what gcc computes from the same
 * system headers.
 *
 * <p>Everything is found by enumeration, so newly generated declarations and new ioctl table entries
 * are covered without editing this test:
 * <ul>
 *   <li>the header groups come from {@code bindings/jextract/*.args} ({@code --target-package},
 *       {@code --header-class-name} and the header path(s));</li>
 *   <li>every top-level class of the target package that declares a static {@code layout()} returning a
 *       {@link GroupLayout} is a struct/union: its size, alignment and every named member's offset and
 *       size (recursively; anonymous members are transparent as in C; padding and bit fields skipped)
 *       are compared with {@code sizeof}/{@code _Alignof}/{@code offsetof};</li>
 *   <li>every public static no-argument method of the header class returning an integral type that is
 *       not a function or global-variable accessor is a constant, compared with the C expression;</li>
 *   <li>every public static final {@code long}/{@code int} field of the hand-kept ioctl tables
 *       ({@link #IOCTL_TABLES}) is compared with the C macro of the same name.</li>
 * </ul>
 * One C program per header group is generated into a temp dir, compiled with gcc and run.
 */
class LayoutConformanceTest {

    /** header class simple name -> hand-kept tables that must agree with that group's headers. */
    static final Map<String, List<String>> IOCTL_TABLES = Map.of(
            "kvm_h", List.of("io.isthmus.sys.KvmIoctl"),
            "vfio_h", List.of("io.isthmus.sys.VfioIoctl"),
            "libc_h", List.of("io.isthmus.sys.Libc", "io.isthmus.sys.Errno", "io.isthmus.sys.Termios"));

    /** One argfile: target package, header class, headers. */
    record Group(String argfile, String pkg, String headerClass, List<Path> headers) {
        String shortName() { return pkg.substring(pkg.lastIndexOf('.') + 1); }
    }

    /** One value to ask C about. {@code cExpr} prints as "%lld %lld"; {@code javaValue}/{@code javaSize} are compared. */
    record Check(String what, String kind, String cValueExpr, String cSizeExpr, long javaValue, long javaSize, int javaBits,
                 List<String> memberNames) {
        Check(String what, String kind, String cValueExpr, String cSizeExpr, long javaValue, long javaSize, int javaBits) {
            this(what, kind, cValueExpr, cSizeExpr, javaValue, javaSize, javaBits, List.of());
        }
    }


    // ------------------------------------------------------------------ test factory

    @TestFactory
    Stream<DynamicNode> conformance() throws Exception {
        Path argDir = locateArgDir();
        List<Group> groups = new ArrayList<>();
        try (Stream<Path> s = Files.list(argDir)) {
            for (Path p : s.filter(f -> f.toString().endsWith(".args")).sorted().toList()) {
                groups.add(parseArgfile(p));
            }
        }
        List<DynamicNode> nodes = new ArrayList<>();
        for (Group g : groups) {
            nodes.add(groupNode(g));
        }
        return nodes.stream();
    }

    private DynamicNode groupNode(Group g) {
        String name = g.shortName() + " (" + g.pkg() + "." + g.headerClass() + ")";
        Class<?> header;
        try {
            header = Class.forName(g.pkg() + "." + g.headerClass());
        } catch (ClassNotFoundException e) {
            return DynamicTest.dynamicTest(name, () -> Assumptions.abort(
                    "generated class " + g.pkg() + "." + g.headerClass() + " not found: run bindings/regenerate"));
        }
        for (Path h : g.headers()) {
            if (!Files.isRegularFile(h)) {
                return DynamicTest.dynamicTest(name, () -> Assumptions.abort(
                        "header " + h + " not present on this machine: cannot compare " + g.pkg()));
            }
        }
        try {
            List<Check> structs = new ArrayList<>();
            List<String> loadErrors = new ArrayList<>();
            int structCount = collectStructs(g, header, structs, loadErrors);
            List<Check> constants = collectConstants(header);
            List<String> tableNotes = new ArrayList<>();
            Map<String, List<Check>> tables = new HashMap<>();
            for (String table : IOCTL_TABLES.getOrDefault(g.headerClass(), List.of())) {
                try {
                    tables.put(table, collectTable(Class.forName(table)));
                } catch (ClassNotFoundException e) {
                    tableNotes.add(table);
                }
            }
            List<Check> all = new ArrayList<>(structs);
            all.addAll(constants);
            tables.values().forEach(all::addAll);
            Map<Integer, long[]> c = runC(g, all);

            List<DynamicNode> tests = new ArrayList<>();
            long fieldChecks = structs.stream().filter(ch -> ch.kind().equals("offset")).count();
            tests.add(DynamicTest.dynamicTest(structCount + " structs/unions, " + fieldChecks + " fields",
                    () -> compare(g.shortName() + " layouts", structs, all, c, loadErrors)));
            tests.add(DynamicTest.dynamicTest(constants.size() + " constants",
                    () -> compare(g.shortName() + " constants", constants, all, c, List.of())));
            for (var e : tables.entrySet()) {
                tests.add(DynamicTest.dynamicTest(e.getKey() + ": " + e.getValue().size() + " ioctl numbers",
                        () -> compare(e.getKey(), e.getValue(), all, c, List.of())));
            }
            for (String missing : tableNotes) {
                tests.add(DynamicTest.dynamicTest(missing, () -> Assumptions.abort(
                        missing + " does not exist yet: its ioctl numbers are not checked")));
            }
            System.out.printf("LayoutConformanceTest %s: %d structs/unions, %d named fields (%d layout checks), "
                            + "%d constants, ioctl tables %s%n",
                    g.shortName(), structCount, fieldChecks, structs.size(), constants.size(),
                    tables.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue().size()).toList()
                            + (tableNotes.isEmpty() ? "" : " (missing: " + tableNotes + ")"));
            return DynamicContainer.dynamicContainer(name, tests);
        } catch (Throwable e) {
            return DynamicTest.dynamicTest(name, () -> { throw e; });
        }
    }

    private static void compare(String title, List<Check> checks, List<Check> all, Map<Integer, long[]> c,
                                List<String> errors) {
        List<String> mismatches = new ArrayList<>(errors);
        List<String> skipped = new ArrayList<>();
        for (Check ch : checks) {
            long[] v = c.get(indexOf(all, ch));
            if (v == null) {
                mismatches.add(ch.what() + ": missing from the C program output");
            } else if (v.length == 1) {
                skipped.add(ch.what() + " " + ch.kind()); // a member name is also a macro (siginfo_t's si_pid)
            } else if (v.length == 0) {
                mismatches.add(ch.what() + ": not defined in the C headers");
            } else if (ch.cSizeExpr() == null) { // layout checks: exact
                if (v[0] != ch.javaValue()) {
                    mismatches.add(ch.what() + ": Java " + ch.kind() + " " + ch.javaValue() + ", C " + ch.kind() + " " + v[0]);
                }
            } else { // integral value: compare at the Java type's width unless C's type is wider
                long cv = v[0];
                long cbits = v[1] * 8;
                boolean ok = cbits <= ch.javaBits() ? truncate(cv, ch.javaBits()) == ch.javaValue()
                        : cv == ch.javaValue();
                if (!ok) {
                    mismatches.add(ch.what() + ": Java value " + ch.javaValue() + ", C value " + cv
                            + " (C type " + v[1] + " bytes, Java " + ch.javaBits() / 8 + ")");
                }
            }
        }
        if (!skipped.isEmpty()) {
            System.out.println(title + ": " + skipped.size() + " checks skipped, C cannot name the member because"
                    + " a macro of the same name exists: " + skipped);
        }
        if (!mismatches.isEmpty()) {
            fail(title + ": " + mismatches.size() + " mismatch(es) out of " + checks.size() + " checks:\n  "
                    + String.join("\n  ", mismatches));
        }
    }

    private static int indexOf(List<Check> all, Check ch) {
        for (int i = 0; i < all.size(); i++) {
            if (all.get(i) == ch) return i;
        }
        return -1;
    }

    private static List<String> idents(String designator) {
        return java.util.Arrays.stream(designator.split("[.\\[\\]]+"))
                .filter(t -> !t.isEmpty() && !Character.isDigit(t.charAt(0))).distinct().toList();
    }

    private static long truncate(long v, int bits) {
        return bits >= 64 ? v : (v << (64 - bits)) >> (64 - bits);
    }

    // ------------------------------------------------------------------ argfiles

    static Path locateArgDir() {
        Path cwd = Path.of(System.getProperty("user.dir"));
        for (Path p : List.of(cwd.resolve("jextract"), cwd.resolve("bindings/jextract"))) {
            if (Files.isDirectory(p)) return p.toAbsolutePath();
        }
        throw new IllegalStateException("cannot find bindings/jextract from " + cwd);
    }

    static Group parseArgfile(Path argfile) throws IOException {
        String pkg = null;
        String headerClass = null;
        List<Path> headers = new ArrayList<>();
        Path base = argfile.getParent().getParent(); // regenerate runs jextract from bindings/
        for (String raw : Files.readAllLines(argfile)) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            String[] parts = line.split("\\s+");
            switch (parts[0]) {
                case "--target-package", "-t" -> pkg = parts[1];
                case "--header-class-name" -> headerClass = parts[1];
                default -> {
                    if (!parts[0].startsWith("-")) headers.add(base.resolve(parts[0]).normalize());
                }
            }
        }
        if (pkg == null || headerClass == null || headers.isEmpty()) {
            throw new IllegalStateException(argfile + ": needs --target-package, --header-class-name and a header");
        }
        return new Group(argfile.getFileName().toString(), pkg, headerClass, headers);
    }

    // ------------------------------------------------------------------ structs

    private static int collectStructs(Group g, Class<?> header, List<Check> out, List<String> errors)
            throws Exception {
        int count = 0;
        for (String simple : listClasses(header)) {
            if (simple.contains("$")) continue; // nested or helper classes; nested layouts are walked from the top
            GroupLayout layout;
            try {
                Class<?> k = Class.forName(g.pkg() + "." + simple);
                Method m;
                try {
                    m = k.getDeclaredMethod("layout");
                } catch (NoSuchMethodException e) {
                    continue; // typedef of another struct class (extends it), or not a struct at all
                }
                if (!Modifier.isStatic(m.getModifiers()) || !GroupLayout.class.isAssignableFrom(m.getReturnType())) {
                    continue;
                }
                layout = (GroupLayout) m.invoke(null);
            } catch (Throwable t) {
                Throwable cause = t instanceof java.lang.reflect.InvocationTargetException ite ? ite.getCause() : t;
                errors.add(g.pkg() + "." + simple + ": cannot initialise its layout: " + cause);
                continue;
            }
            String layoutName = layout.name().orElse("");
            String cType;
            if (layoutName.equals(simple)) {
                cType = (layout instanceof StructLayout ? "struct " : "union ") + simple;
            } else if (layoutName.startsWith("$anon$") || layoutName.isEmpty()) {
                cType = simple; // typedef of an anonymous struct/union
            } else {
                continue;
            }
            count++;
            out.add(new Check(cType, "sizeof", "sizeof(" + cType + ")", null, layout.byteSize(), 0, 64));
            out.add(new Check(cType, "alignof", "_Alignof(" + cType + ")", null, layout.byteAlignment(), 0, 64));
            walk(cType, layout, "", 0, out);
        }
        return count;
    }

    private static void walk(String cType, GroupLayout group, String prefix, long base, List<Check> out) {
        boolean union = !(group instanceof StructLayout);
        long offset = 0;
        for (MemoryLayout member : group.memberLayouts()) {
            long memberOffset = base + (union ? 0 : offset);
            if (!union) offset += member.byteSize();
            if (member instanceof PaddingLayout) continue; // padding and skipped bit fields
            String name = member.name().orElse("");
            boolean anonymous = name.isEmpty() || name.startsWith("$anon$");
            String path = anonymous ? prefix : (prefix.isEmpty() ? name : prefix + "." + name);
            if (!anonymous) {
                out.add(new Check(cType + " field " + path, "offset",
                        "__builtin_offsetof(" + cType + ", " + path + ")", null, memberOffset, 0, 64, idents(path)));
                boolean flexible = member instanceof SequenceLayout s && s.elementCount() == 0;
                if (!flexible) {
                    out.add(new Check(cType + " field " + path, "size",
                            "sizeof(((" + cType + " *)0)->" + path + ")", null, member.byteSize(), 0, 64, idents(path)));
                }
            }
            MemoryLayout inner = member;
            String innerPath = path;
            while (inner instanceof SequenceLayout s && !anonymous) { // look into element 0 of arrays of structs
                inner = s.elementLayout();
                innerPath = innerPath + "[0]";
            }
            if (inner instanceof GroupLayout gl) {
                walk(cType, gl, innerPath, memberOffset, out);
            }
        }
    }

    /** Simple names of the classes in the header class's package (directory or jar). */
    static Set<String> listClasses(Class<?> header) throws IOException {
        URL url = header.getResource(header.getSimpleName() + ".class");
        if (url == null) throw new IllegalStateException("cannot locate " + header.getName() + ".class");
        Set<String> names = new TreeSet<>();
        URI uri = URI.create(url.toString());
        if ("jar".equals(uri.getScheme())) {
            try (FileSystem fs = FileSystems.newFileSystem(uri, Map.of())) {
                collect(fs.provider().getPath(uri).getParent(), names);
            }
        } else {
            collect(Path.of(uri).getParent(), names);
        }
        return names;
    }

    private static void collect(Path dir, Set<String> names) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            s.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".class"))
                    .forEach(n -> names.add(n.substring(0, n.length() - ".class".length())));
        }
    }

    // ------------------------------------------------------------------ constants and ioctl tables

    private static List<Check> collectConstants(Class<?> header) throws Exception {
        Set<String> accessors = new TreeSet<>();
        List<Method> candidates = new ArrayList<>();
        for (Class<?> k = header; k != null && k != Object.class; k = k.getSuperclass()) {
            if (k.getSimpleName().endsWith("$shared")) continue;
            for (Method m : k.getDeclaredMethods()) {
                accessors.add(m.getName());
                if (Modifier.isStatic(m.getModifiers()) && Modifier.isPublic(m.getModifiers())
                        && m.getParameterCount() == 0 && bits(m.getReturnType()) > 0) {
                    candidates.add(m);
                }
            }
        }
        List<Check> out = new ArrayList<>();
        candidates.sort(Comparator.comparing(Method::getName));
        for (Method m : candidates) {
            String n = m.getName();
            // functions have n$handle/n$address, global variables n$segment: those are not constants
            if (accessors.contains(n + "$handle") || accessors.contains(n + "$segment")) continue;
            long v = ((Number) toNumber(m.invoke(null))).longValue();
            out.add(new Check("constant " + n, "value", "(long long)(" + n + ")", "(long long)sizeof(" + n + ")",
                    v, 0, bits(m.getReturnType())));
        }
        return out;
    }

    private static List<Check> collectTable(Class<?> table) throws Exception {
        List<Check> out = new ArrayList<>();
        Field[] fields = table.getDeclaredFields();
        java.util.Arrays.sort(fields, Comparator.comparing(Field::getName));
        for (Field f : fields) {
            int mod = f.getModifiers();
            if (!Modifier.isPublic(mod) || !Modifier.isStatic(mod) || !Modifier.isFinal(mod)) continue;
            if (f.getType() != long.class && f.getType() != int.class) continue;
            String n = f.getName();
            out.add(new Check(table.getSimpleName() + "." + n, "value", "#ifdef " + n, "(table)",
                    ((Number) f.get(null)).longValue(), 0, bits(f.getType())));
        }
        return out;
    }

    private static Object toNumber(Object o) {
        return o instanceof Character ch ? (long) ch.charValue() : o;
    }

    private static int bits(Class<?> t) {
        if (t == long.class) return 64;
        if (t == int.class) return 32;
        if (t == short.class || t == char.class) return 16;
        if (t == byte.class) return 8;
        return 0;
    }

    // ------------------------------------------------------------------ the C side

    /** Returns index -> {value, size} ({} when an ioctl macro is not defined). */
    private static Map<Integer, long[]> runC(Group g, List<Check> checks) throws Exception {
        StringBuilder src = new StringBuilder();
        src.append("/* generated by LayoutConformanceTest for ").append(g.argfile()).append(" */\n");
        for (Path h : g.headers()) src.append("#include \"").append(h).append("\"\n");
        src.append("#include <stdio.h>\n#include <stddef.h>\n\nint main(void) {\n");
        for (int i = 0; i < checks.size(); i++) {
            Check ch = checks.get(i);
            if (ch.cValueExpr().startsWith("#ifdef ")) { // ioctl table entry: a macro that may not exist
                String n = ch.cValueExpr().substring(7);
                src.append("#ifdef ").append(n).append('\n')
                        .append("    printf(\"").append(i).append(" %lld %lld\\n\", (long long)(").append(n)
                        .append("), (long long)sizeof(").append(n).append("));\n")
                        .append("#else\n    printf(\"").append(i).append(" undefined\\n\");\n#endif\n");
            } else {
                String size = ch.cSizeExpr() == null ? "0LL" : ch.cSizeExpr();
                if (!ch.memberNames().isEmpty()) {
                    src.append("#if ").append(String.join(" || ", ch.memberNames().stream()
                                    .map(n -> "defined(" + n + ")").toList())).append('\n')
                            .append("    printf(\"").append(i).append(" macro\\n\");\n#else\n");
                }
                src.append("    printf(\"").append(i).append(" %lld %lld\\n\", (long long)(")
                        .append(ch.cValueExpr()).append("), (long long)(").append(size).append("));\n");
                if (!ch.memberNames().isEmpty()) src.append("#endif\n");
            }
        }
        src.append("    return 0;\n}\n");
        Path dir = Files.createTempDirectory("isthmus-layout-" + g.shortName());
        Path c = dir.resolve(g.shortName() + "_layout.c");
        Path exe = dir.resolve(g.shortName() + "_layout");
        Files.writeString(c, src);
        String out = exec(dir, List.of("gcc", "-O0", "-w", "-o", exe.toString(), c.toString()), "gcc (source kept in " + c + ")");
        out = exec(dir, List.of(exe.toString()), exe.toString());
        Map<Integer, long[]> result = new HashMap<>();
        for (String line : out.split("\n")) {
            if (line.isBlank()) continue;
            String[] p = line.trim().split(" ");
            int idx = Integer.parseInt(p[0]);
            result.put(idx, p[1].equals("undefined") ? new long[0]
                    : p[1].equals("macro") ? new long[1]
                    : new long[] {Long.parseLong(p[1]), Long.parseLong(p[2])});
        }
        deleteTree(dir);
        return result;
    }

    private static String exec(Path dir, List<String> cmd, String what) throws Exception {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        byte[] bytes = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(what + " timed out");
        }
        String out = new String(bytes, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IllegalStateException(what + " failed (exit " + p.exitValue() + "):\n"
                    + out.lines().limit(40).reduce("", (a, b) -> a + b + "\n"));
        }
        return out;
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
