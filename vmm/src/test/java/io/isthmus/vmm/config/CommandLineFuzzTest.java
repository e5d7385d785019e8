package io.isthmus.vmm.config;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.isthmus.vmm.FuzzCoverage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The QEMU command line and QemuOpts on arbitrary text: parsing returns a result or throws {@link OptionException}
 * (or, for {@code -d help}, {@link CommandLine.LogHelpException}), each with a message; nothing else. Corpus:
 * {@code src/test/resources/io/isthmus/vmm/config/CommandLineFuzzTestInputs/<method>/}; the commandLine seeds are
 * NUL-separated argument lists (see {@link #arguments}).
 */
@ExtendWith(FuzzCoverage.class)
class CommandLineFuzzTest {

    /** The input split at NUL bytes into arguments (Latin-1), so that a seed file is a readable command line. */
    static String[] arguments(byte[] data) {
        List<String> args = new ArrayList<>();
        int start = 0;
        for (int i = 0; i <= data.length; i++) {
            if (i == data.length || data[i] == 0) {
                if (i > start || i < data.length) {
                    args.add(new String(data, start, i - start, java.nio.charset.StandardCharsets.ISO_8859_1));
                }
                start = i + 1;
            }
        }
        return args.toArray(String[]::new);
    }

    @FuzzTest
    void commandLine(byte[] data) {
        try {
            CommandLine.Parsed p = CommandLine.parse(arguments(data));
            if (p instanceof CommandLine.Run r) {
                VmConfig c = r.config();
                if (c.memBytes() <= 0 || c.cpus() < 1 || c.cpus() > CommandLine.MAX_CPUS) {
                    throw new AssertionError("accepted an impossible machine: " + c);
                }
            }
        } catch (OptionException e) {
            if (e.getMessage() == null || e.getMessage().isEmpty()) {
                throw new AssertionError("OptionException without a message", e);
            }
            e.format("isthmus-vmm");
        } catch (CommandLine.LogHelpException e) {
            // -d help: prints the list
        }
    }

    @FuzzTest
    void qemuOpts(FuzzedDataProvider data) {
        String implied = data.consumeBoolean() ? data.consumeString(8) : null;
        String text = data.consumeRemainingAsString();
        Map<String, String> opts = QemuOpts.parse(text, implied);
        for (Map.Entry<String, String> e : opts.entrySet()) {
            if (e.getKey() == null || e.getValue() == null) {
                throw new AssertionError("null key or value from " + text);
            }
        }
        QemuOpts.splitValues(text);
        long size = QemuOpts.parseSize(text, 1L << 20);
        if (size < -1) {
            throw new AssertionError("parseSize(" + text + ") = " + size);
        }
        QemuOpts.parseUnsigned(text);
        QemuOpts.parseBool(text);
    }
}
