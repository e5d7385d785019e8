package io.isthmus.vmm.machine;

import io.isthmus.vmm.boot.KernelLoader;
import io.isthmus.vmm.config.CommandLine;
import io.isthmus.vmm.config.VmConfig;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Machines for the machine package's KVM tests: a prebuilt test guest (vmm/src/test/guests, built by build.sh into
 * the test classes' {@code test-guests/}) made into a {@link MicroVm} in this JVM, with its serial output captured.
 * Stateless.
 */
final class MachineGuests {
    private MachineGuests() {}

    /** The prebuilt guest {@code name}'s bytes. */
    static byte[] guest(String name) {
        try (InputStream in = MachineGuests.class.getResourceAsStream("/test-guests/" + name)) {
            if (in == null) {
                throw new IllegalArgumentException("no prebuilt test guest test-guests/" + name + " on the class path:"
                        + " vmm/src/test/guests/build.sh makes the corpus when Maven builds the tests");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A machine running guest {@code name} with {@code args} added to {@code -kernel NAME -serial stdio
     * -display none}, its UART writing to {@code out} and reading nothing.
     */
    static MicroVm create(String name, OutputStream out, PrintStream err, String... args) {
        byte[] kernel = guest(name);
        List<String> all = new ArrayList<>(List.of("-kernel", name, "-serial", "stdio", "-display", "none"));
        all.addAll(List.of(args));
        VmConfig config = ((CommandLine.Run) CommandLine.parse(all.toArray(String[]::new))).config();
        return MicroVm.create(config, HostStdio.of(new ByteArrayInputStream(new byte[0]), out), err,
                (map, ram) -> KernelLoader.load(kernel, name, null, null, map, ram, err));
    }
}
