package io.isthmus.vfio.pci;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Runs the real {@code lspci -vvv -F DUMP} (pciutils) and splits its output into capabilities. */
final class Lspci {
    /** One {@code Capabilities: [off vN] text} block with its indented detail lines. */
    record Cap(int offset, int version, String text, List<String> details) {
        String all() {
            return text + "\n" + String.join("\n", details);
        }
    }

    private static final Pattern CAP = Pattern.compile("^\\tCapabilities: \\[([0-9a-f]+)(?: v(\\d+))?\\] (.*)$");

    private Lspci() {}

    static String run(Path dump) throws IOException, InterruptedException {
        Process p;
        try {
            p = new ProcessBuilder("lspci", "-vvv", "-F", dump.toString()).redirectErrorStream(false).start();
        } catch (IOException e) {
            throw new IllegalStateException("lspci is not installed: apt-get install pciutils (bin/test does it)", e);
        }
        p.getErrorStream().transferTo(java.io.OutputStream.nullOutputStream());
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("lspci -vvv -F " + dump + " failed (exit " + p.exitValue() + "): " + out);
        }
        return out;
    }

    static List<Cap> capabilities(String output) {
        List<Cap> caps = new ArrayList<>();
        List<String> details = null;
        for (String line : output.split("\n")) {
            Matcher m = CAP.matcher(line);
            if (m.matches()) {
                details = new ArrayList<>();
                caps.add(new Cap(Integer.parseInt(m.group(1), 16), m.group(2) == null ? 0 : Integer.parseInt(m.group(2)),
                        m.group(3), details));
            } else if (details != null && line.startsWith("\t\t")) {
                details.add(line.trim());
            } else {
                details = null;
            }
        }
        return caps;
    }

    static List<Cap> of(ConfigSpace cfg, Path dir, String name) throws IOException, InterruptedException {
        Path f = dir.resolve(name + ".lspci");
        Files.writeString(f, cfg.toLspciHex("00:00.0 " + name));
        return capabilities(run(f));
    }
}
