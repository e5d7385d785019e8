package io.isthmus.sched;

import java.lang.reflect.Proxy;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Lets Jazzer 0.24.0 instrument this project's classes for coverage when fuzzing ({@code JAZZER_FUZZ} set): Jazzer's
 * shaded ASM reads class files up to Java 23 (major version 67) and skips classes compiled with {@code --release 25}
 * (69), so without this a fuzzing run gets no coverage feedback ("no interesting inputs were found"). Before Jazzer
 * installs its agent this registers a retransforming class-file transformer, first in the chain, that relabels the
 * project's class files as version 67: Java 24 and 25 added nothing to the class-file format that ASM would have to
 * read, so the bytes are otherwise unchanged and the JVM runs them as before. In regression mode (bin/test, no
 * {@code JAZZER_FUZZ}) Jazzer instruments nothing and this does nothing.
 *
 * <p>Each fuzz test class in this module names it: {@code @ExtendWith(FuzzCoverage.class)}. It uses the ByteBuddy
 * agent that Jazzer shades, which hands back the one {@code Instrumentation} the JVM gives an agent, so Jazzer's
 * later install reuses it and its transformer runs after this one. Reflection and a proxy instead of
 * {@code java.lang.instrument} types: the tests run inside this module (on the module path), which does not read
 * {@code java.instrument}. (vmm and vfio keep copies: modules share no test code.)
 */
public final class FuzzCoverage implements BeforeAllCallback {
    /** The newest class-file major version Jazzer 0.24.0's ASM accepts (Java 23). */
    static final int ASM_MAX_MAJOR = 67;
    private static boolean installed;

    @Override
    public void beforeAll(ExtensionContext context) {
        install();
    }

    static synchronized void install() {
        String fuzz = System.getenv("JAZZER_FUZZ");
        if (installed || fuzz == null || fuzz.isEmpty()) {
            return;
        }
        try {
            Object inst = Class.forName("com.code_intelligence.jazzer.third_party.net.bytebuddy.agent.ByteBuddyAgent")
                    .getMethod("install").invoke(null);
            Class<?> transformerType = Class.forName("java.lang.instrument.ClassFileTransformer");
            // transform(ClassLoader, String name, Class, ProtectionDomain, byte[]) and the form with a Module first:
            // the name is the one String argument, the class file the last.
            Object transformer = Proxy.newProxyInstance(FuzzCoverage.class.getClassLoader(),
                    new Class<?>[] {transformerType}, (proxy, method, args) -> switch (method.getName()) {
                        case "transform" -> {
                            String name = null;
                            for (Object a : args) {
                                if (a instanceof String str) {
                                    name = str;
                                }
                            }
                            yield relabel(name, (byte[]) args[args.length - 1]);
                        }
                        case "hashCode" -> System.identityHashCode(proxy);
                        case "equals" -> proxy == args[0];
                        case "toString" -> "FuzzCoverage relabelling transformer";
                        default -> null;
                    });
            Class.forName("java.lang.instrument.Instrumentation")
                    .getMethod("addTransformer", transformerType, boolean.class).invoke(inst, transformer, true);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot install the class-file relabelling for Jazzer's coverage", e);
        }
        installed = true;
    }

    /** The project's class files above version 67, relabelled 67; anything else unchanged ({@code null}). */
    static byte[] relabel(String name, byte[] bytes) {
        if (name == null || !name.startsWith("io/isthmus/") || bytes.length < 8) {
            return null;
        }
        int major = (bytes[6] & 0xff) << 8 | (bytes[7] & 0xff);
        if (major <= ASM_MAX_MAJOR) {
            return null;
        }
        byte[] out = bytes.clone();
        out[6] = (byte) (ASM_MAX_MAJOR >> 8);
        out[7] = (byte) ASM_MAX_MAJOR;
        return out;
    }
}
