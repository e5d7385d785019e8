package io.isthmus.benchmarks;

import io.isthmus.vfio.pci.PciDevice;
import io.isthmus.vfio.pci.SysfsPci;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What the VFIO benchmarks share: the device under test and the C baseline child process.
 *
 * <p>The device is {@code -Disthmus.bench.vfio.device=BDF}, else the first PCI function bound to vfio-pci (QEMU's
 * edu in the lab). These benchmarks need {@code /dev/vfio}: they run in the lab guest, not on a host without it.
 * The baseline is {@code vfio/vfio_baseline.c} from this jar, compiled with gcc at setup or prebuilt
 * ({@link Toolchain}) for a guest without gcc.
 *
 * <p>Not thread-safe; used from {@code @Setup}/{@code @TearDown} and one benchmark thread.
 */
final class VfioBenchSupport {
    private VfioBenchSupport() {}

    /** The vfio-pci device to measure; fails with what to do when there is none. */
    static PciDevice device() {
        if (!Files.exists(Path.of("/dev/vfio/vfio"))) {
            throw new IllegalStateException("the VFIO benchmarks need /dev/vfio (vfio-pci and an IOMMU): run them"
                    + " through bin/isthmus bench, which runs them in the lab guest, where QEMU's edu is bound to"
                    + " vfio-pci");
        }
        SysfsPci sysfs = SysfsPci.system();
        String bdf = System.getProperty("isthmus.bench.vfio.device");
        if (bdf != null) {
            return sysfs.require(io.isthmus.vfio.PciAddress.parse(bdf));
        }
        return sysfs.devices().stream().filter(PciDevice::boundToVfio).findFirst().orElseThrow(
                () -> new IllegalStateException("no PCI device is bound to vfio-pci (isthmus vfio bind BDF)"));
    }

    /** The C baseline, running: one line in (a count), one line out (a checksum) per batch. */
    static final class Baseline implements AutoCloseable {
        private final Process process;
        private final Writer in;
        private final BufferedReader out;

        Baseline(String... args) throws IOException {
            List<String> cmd = new ArrayList<>();
            cmd.add(executable().toString());
            cmd.addAll(List.of(args));
            process = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.US_ASCII);
            out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.US_ASCII));
        }

        long batch(int n) throws IOException {
            in.write(n + "\n");
            in.flush();
            String line = out.readLine();
            if (line == null) {
                throw new IllegalStateException("the C baseline exited; see its stderr above");
            }
            return Long.parseLong(line);
        }

        @Override
        public void close() throws Exception {
            in.close();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroy();
            }
        }

        private static Path executable() throws IOException {
            return new Toolchain().compileC("vfio/vfio_baseline.c");
        }
    }
}
