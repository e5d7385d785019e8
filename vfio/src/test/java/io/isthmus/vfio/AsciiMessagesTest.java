package io.isthmus.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every string and char literal in vfio's main sources is ASCII: exception messages and CLI output then read the
 * same on a POSIX-locale console (the lab's, many servers'), which prints anything else as {@code ?}. Comments and
 * Javadoc may use any character. The lab's {@code ExampleLabTest} shows one such message on that console.
 */
class AsciiMessagesTest {
    private static final Pattern UNICODE_ESCAPE = Pattern.compile("\\\\u+([0-9a-fA-F]{4})");

    @Test
    void everyLiteralInTheMainSourcesIsAscii() throws IOException {
        Path main = Path.of("src/main/java");
        assertTrue(Files.isDirectory(main), "run from the vfio module: " + main.toAbsolutePath());
        List<String> found = new ArrayList<>();
        int files = 0;
        try (Stream<Path> s = Files.walk(main)) {
            for (Path p : s.filter(f -> f.toString().endsWith(".java")).sorted().toList()) {
                files++;
                for (String hit : nonAsciiLiterals(Files.readString(p))) {
                    found.add(main.relativize(p) + ":" + hit);
                }
            }
        }
        assertTrue(files > 20, "scanned only " + files + " files");
        assertEquals(List.of(), found, "non-ASCII characters in literals (write <=, >=, -, ... instead)");
    }

    @Test
    void theScannerFindsNonAsciiInLiteralsAndIgnoresComments() {
        String source = """
                /** Javadoc may say \u2264. */
                class A {
                    // so may a comment: \u2014
                    String ok = "a <= b, 'quoted' \\"escaped\\" \\\\";
                    String bad = "domain \u2264 ffff";
                    char c = '\u2026';
                    String escaped = "a \\u2265 b";
                    String block = \"""
                        fine, then \u00e9
                        \""";
                    char quote = '"';
                    String after = "plain";
                }
                """;
        List<String> hits = nonAsciiLiterals(source);
        assertEquals(4, hits.size(), hits.toString());
        assertTrue(hits.get(0).startsWith("5: \"domain"), hits.toString());
        assertTrue(hits.get(1).startsWith("6: '"), hits.toString());
        assertTrue(hits.get(2).startsWith("7: \"a \\u2265"), hits.toString());
        assertTrue(hits.get(3).startsWith("8: \"\"\""), hits.toString());
    }

    /** The string, text-block and char literals of {@code source} holding a non-ASCII character, as "line: literal". */
    static List<String> nonAsciiLiterals(String source) {
        List<String> hits = new ArrayList<>();
        int n = source.length(), line = 1;
        for (int i = 0; i < n; i++) {
            char c = source.charAt(i);
            if (c == '\n') {
                line++;
            } else if (source.startsWith("//", i)) {
                int end = source.indexOf('\n', i);
                i = (end < 0 ? n : end) - 1;
            } else if (source.startsWith("/*", i)) {
                int end = source.indexOf("*/", i + 2);
                end = end < 0 ? n : end + 2;
                line += (int) source.substring(i, end).chars().filter(ch -> ch == '\n').count();
                i = end - 1;
            } else if (c == '"' || c == '\'') {
                boolean block = source.startsWith("\"\"\"", i);
                String close = block ? "\"\"\"" : String.valueOf(c);
                int j = i + close.length();
                while (j < n && !source.startsWith(close, j)) {
                    j += source.charAt(j) == '\\' ? 2 : 1;
                }
                int end = Math.min(n, j + close.length());
                String literal = source.substring(i, end);
                if (!ascii(literal)) {
                    hits.add(line + ": " + literal);
                }
                line += (int) literal.chars().filter(ch -> ch == '\n').count();
                i = end - 1;
            }
        }
        return hits;
    }

    private static boolean ascii(String literal) {
        if (!literal.chars().allMatch(ch -> ch < 0x80)) {
            return false;
        }
        Matcher m = UNICODE_ESCAPE.matcher(literal);
        while (m.find()) {
            if (Integer.parseInt(m.group(1), 16) >= 0x80) {
                return false;
            }
        }
        return true;
    }
}
