package io.isthmus.vmm.virtio;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import io.isthmus.vmm.config.VmConfig;

/**
 * Makes the device a command line asked for ({@link VmConfig#virtioDevices()}). Stateless; thread-safe.
 */
public final class VirtioDevices {
    private VirtioDevices() {}

    /**
     * Opens the device {@code spec} describes, its backend included.
     *
     * @throws IOException when a drive's file cannot be opened, with QEMU's message
     *                     ({@code Could not open 'PATH': No such file or directory}); the command line checked the
     *                     file, so this means it changed since
     */
    public static VirtioDevice open(VmConfig.VirtioDeviceSpec spec) throws IOException {
        return switch (spec) {
            case VmConfig.VirtioBlkSpec b -> {
                try {
                    yield VirtioBlk.open(Path.of(b.file()), b.readOnly(), b.serial());
                } catch (IOException e) {
                    throw new IOException("Could not open '" + b.file() + "': " + reason(e), e);
                }
            }
            case VmConfig.VirtioRngSpec r -> new VirtioRng();
            case VmConfig.VgpuSpec g -> {
                io.isthmus.vmm.vgpu.VgpuHosts.Lease lease;
                try {
                    lease = io.isthmus.vmm.vgpu.VgpuHosts.acquire(g.engine());
                } catch (RuntimeException e) { // the engine cannot run here (cuda without its driver)
                    throw new IOException("isthmus-vgpu: engine '" + g.engine() + "' is not available: "
                            + e.getMessage(), e);
                }
                yield new VirtioVgpu(lease, g.weight(), g.capPercent(), g.memoryBytes(), g.id());
            }
        };
    }

    private static String reason(IOException e) {
        if (e instanceof NoSuchFileException) {
            return "No such file or directory";
        }
        if (e instanceof AccessDeniedException) {
            return "Permission denied";
        }
        if (e instanceof FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        return String.valueOf(e.getMessage());
    }
}
