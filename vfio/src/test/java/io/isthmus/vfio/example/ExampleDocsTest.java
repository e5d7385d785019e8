package io.isthmus.vfio.example;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The driver example shown in the README and in the {@code io.isthmus.vfio} package documentation is, character for
 * character, {@link EduDriver}: the class Maven compiles with vfio's tests and the lab runs ({@code ExampleLabTest}).
 */
class ExampleDocsTest {
    private static final Path SOURCE = Path.of("src/test/java/io/isthmus/vfio/example/EduDriver.java");

    /** The example as shown: the source from its first import on (the package line is the repository's). */
    static String body() throws IOException {
        String src = Files.readString(SOURCE);
        return src.substring(src.indexOf("import "));
    }

    @Test
    void theReadmeShowsTheCompiledExample() throws IOException {
        String readme = Files.readString(Path.of("../README.md"));
        assertTrue(readme.contains("```java\n" + body() + "```\n"),
                "README.md's example differs from " + SOURCE + ": copy the file from its first import into the"
                        + " ```java block of 'Writing a user-space driver'");
    }

    @Test
    void thePackageDocumentationShowsTheCompiledExample() throws IOException {
        String info = Files.readString(Path.of("src/main/java/io/isthmus/vfio/package-info.java"));
        String asJavadoc = body().lines().map(l -> l.isEmpty() ? " *" : " * " + l)
                .collect(Collectors.joining("\n", " * {@snippet lang=java :\n", "\n * }\n"));
        assertTrue(info.contains(asJavadoc), "the {@snippet} in io.isthmus.vfio's package-info differs from " + SOURCE
                + " (each line of the file from its first import, prefixed with ' * ')");
    }
}
