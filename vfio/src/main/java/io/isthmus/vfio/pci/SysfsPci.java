package io.isthmus.vfio.pci;

import io.isthmus.vfio.PciAddress;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Stream;

/**
 * The PCI devices of a sysfs tree: {@code <root>/bus/pci/devices}, {@code <root>/kernel/iommu_groups}. The root
 * is {@code /sys} on a real machine and a synthetic directory in tests.
 *
 * <p>Reading is side-effect free; {@link #bindToVfio(PciAddress)} writes ({@code driver_override}, unbind,
 * {@code drivers_probe}) and needs root. Stateless apart from the root path; thread-safe, though concurrent
 * binds of the same device race in the kernel as they would from a shell.
 */
public final class SysfsPci {
    private final Path root;

    /** A view of the sysfs tree at {@code root} (normally {@code /sys}). */
    public SysfsPci(Path root) {
        this.root = root;
    }

    /** The real {@code /sys}. */
    public static SysfsPci system() {
        return new SysfsPci(Path.of("/sys"));
    }

    public Path root() {
        return root;
    }

    Path devicesDir() {
        return root.resolve("bus/pci/devices");
    }

    /** The sysfs directory of {@code address} (it may not exist). */
    public Path path(PciAddress address) {
        return devicesDir().resolve(address.toString());
    }

    /** All PCI functions, sorted by address; empty when the tree has no PCI bus. */
    public List<PciDevice> devices() {
        Path dir = devicesDir();
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            List<PciDevice> out = new ArrayList<>();
            for (Path p : s.sorted().toList()) {
                PciAddress a;
                try {
                    a = PciAddress.parse(p.getFileName().toString());
                } catch (IllegalArgumentException e) {
                    continue; // not a function directory
                }
                out.add(read(a, p));
            }
            out.sort((x, y) -> x.address().compareTo(y.address()));
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("listing " + dir, e);
        }
    }

    /** The function at {@code address}, if sysfs has it. */
    public Optional<PciDevice> device(PciAddress address) {
        Path p = path(address);
        return Files.isDirectory(p) ? Optional.of(read(address, p)) : Optional.empty();
    }

    /** The function at {@code address}, or an {@link IllegalArgumentException} saying it is absent and how to look. */
    public PciDevice require(PciAddress address) {
        return device(address).orElseThrow(() -> new IllegalArgumentException("no PCI device " + address + " in "
                + devicesDir() + " (see 'isthmus vfio list' for the devices present)"));
    }

    /** The function's config space as sysfs gives it (64 bytes unless root; 256 or 4096 as root). */
    public ConfigSpace config(PciAddress address) {
        Path p = path(address).resolve("config");
        try {
            return ConfigSpace.of(Files.readAllBytes(p));
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + p, e);
        }
    }

    private PciDevice read(PciAddress a, Path p) {
        return new PciDevice(a, p, hex(p, "vendor"), hex(p, "device"), hex(p, "subsystem_vendor"),
                hex(p, "subsystem_device"), hex(p, "class"), hex(p, "revision"), link(p.resolve("driver")),
                text(p, "driver_override").filter(s -> !s.isEmpty() && !s.equals("(null)")), group(p),
                resources(p));
    }

    private static OptionalInt group(Path p) {
        return link(p.resolve("iommu_group")).map(n -> OptionalInt.of(Integer.parseInt(n)))
                .orElse(OptionalInt.empty());
    }

    private static Optional<String> link(Path link) {
        try {
            return Optional.of(Files.readSymbolicLink(link).getFileName().toString());
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("reading link " + link, e);
        }
    }

    private static Optional<String> text(Path dir, String name) {
        Path f = dir.resolve(name);
        try {
            return Optional.of(Files.readString(f).trim());
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + f, e);
        }
    }

    private static int hex(Path dir, String name) {
        return text(dir, name).map(s -> (int) Long.parseLong(s.startsWith("0x") ? s.substring(2) : s, 16)).orElse(0);
    }

    private static List<PciResource> resources(Path dir) {
        List<PciResource> out = new ArrayList<>();
        Optional<String> text = text(dir, "resource");
        if (text.isEmpty()) {
            return out;
        }
        String[] lines = text.get().split("\n");
        for (int i = 0; i < lines.length; i++) {
            String[] f = lines[i].trim().split("\\s+");
            if (f.length < 3) {
                continue;
            }
            out.add(new PciResource(i, Long.parseUnsignedLong(f[0].substring(2), 16),
                    Long.parseUnsignedLong(f[1].substring(2), 16), Long.parseUnsignedLong(f[2].substring(2), 16)));
        }
        return out;
    }

    /** The functions in IOMMU group {@code group} ({@code <root>/kernel/iommu_groups/N/devices}). */
    public List<PciAddress> groupMembers(int group) {
        Path dir = root.resolve("kernel/iommu_groups/" + group + "/devices");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).flatMap(n -> {
                try {
                    return Stream.of(PciAddress.parse(n));
                } catch (IllegalArgumentException e) {
                    return Stream.empty();
                }
            }).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("listing " + dir, e);
        }
    }

    /** A one-line description of a group's members and drivers, for error messages. */
    public String describeGroup(int group) {
        List<PciAddress> members = groupMembers(group);
        if (members.isEmpty()) {
            return "no devices visible in " + root.resolve("kernel/iommu_groups/" + group);
        }
        List<String> parts = new ArrayList<>();
        for (PciAddress a : members) {
            parts.add(a + " (" + device(a).flatMap(PciDevice::driver).orElse("no driver") + ")");
        }
        return String.join(", ", parts);
    }

    /**
     * Binds {@code address} to vfio-pci through {@code driver_override}, remembering the driver it had; closing the
     * returned binding restores that driver. See {@link DriverBinding}.
     */
    public DriverBinding bindToVfio(PciAddress address) {
        return DriverBinding.bind(this, require(address), "vfio-pci");
    }

    /**
     * Unbinds {@code address} from vfio-pci and lets the kernel probe its default driver again (the CLI's
     * {@code unbind}); a no-op when vfio-pci does not drive it.
     */
    public Optional<String> releaseFromVfio(PciAddress address) {
        return DriverBinding.release(this, require(address), "vfio-pci");
    }
}
