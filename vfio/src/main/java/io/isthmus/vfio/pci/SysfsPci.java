package io.isthmus.vfio.pci;

import io.isthmus.vfio.PciAddress;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The PCI devices of a sysfs tree: {@code <root>/bus/pci/devices}, {@code <root>/kernel/iommu_groups}. The root
 * is {@code /sys} on a real machine and a synthetic directory in tests.
 *
 * <p>Finding a device: {@link #withId(int, int)} (vendor and device id), {@link #withClass(int, int)} (base class and
 * subclass, e.g. 0x01, 0x08 for NVMe), {@link #device(PciAddress)}; then
 * {@code io.isthmus.vfio.VfioContainer#device(PciDevice)} opens it.
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

    /** The functions with vendor id {@code vendor} and device id {@code device}, sorted by address. */
    public List<PciDevice> withId(int vendor, int device) {
        return devices().stream().filter(d -> d.vendor() == vendor && d.device() == device).toList();
    }

    /**
     * The functions of base class {@code baseClass} and subclass {@code subclass}, any programming interface,
     * sorted by address; e.g. {@code withClass(0x02, 0x00)} for Ethernet controllers.
     */
    public List<PciDevice> withClass(int baseClass, int subclass) {
        checkByte("base class", baseClass);
        checkByte("subclass", subclass);
        int want = baseClass << 8 | subclass;
        return devices().stream().filter(d -> d.classCode() >>> 8 == want).toList();
    }

    /**
     * The functions of the full 24-bit class {@code baseClass}, {@code subclass}, {@code progIf}, sorted by
     * address; e.g. {@code withClass(0x01, 0x08, 0x02)} for NVM Express controllers.
     */
    public List<PciDevice> withClass(int baseClass, int subclass, int progIf) {
        checkByte("programming interface", progIf);
        return withClass(baseClass, subclass).stream().filter(d -> (d.classCode() & 0xff) == progIf).toList();
    }

    private static void checkByte(String what, int value) {
        if (value < 0 || value > 0xff) {
            throw new IllegalArgumentException(String.format("the PCI %s is one byte (0x00..0xff), got 0x%x", what,
                    value));
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
     * Drivers that leave a group usable by VFIO: vfio-pci itself, pci-stub, and pcieport (the kernel marks these
     * as managing DMA themselves). Any other driver on a member makes the group not viable.
     */
    private static final List<String> VFIO_COMPATIBLE_DRIVERS = List.of("vfio-pci", "pci-stub", "pcieport");

    /**
     * The members of IOMMU group {@code group} that would keep it from being viable for VFIO once the devices in
     * {@code binding} were bound to vfio-pci: those driven by a kernel driver other than vfio-pci, pci-stub or
     * pcieport. The kernel refuses to attach a group with such a member (VFIO_GROUP_FLAGS_VIABLE clear), since the
     * driver's DMA and the user's would share one IOMMU domain. Empty: viable.
     */
    public List<PciDevice> viabilityBlockers(int group, Collection<PciAddress> binding) {
        List<PciDevice> out = new ArrayList<>();
        for (PciAddress a : groupMembers(group)) {
            if (binding.contains(a)) {
                continue;
            }
            Optional<PciDevice> d = device(a);
            if (d.isPresent() && d.get().driver().filter(drv -> !VFIO_COMPATIBLE_DRIVERS.contains(drv)
                    && !drv.contains("vfio")).isPresent()) {
                out.add(d.get());
            }
        }
        return out;
    }

    /**
     * Binds {@code address} to vfio-pci through {@code driver_override}, remembering the driver it had; closing the
     * returned binding restores that driver. See {@link DriverBinding} and {@link #bindToVfio(List)}: a device
     * whose IOMMU group would not be viable is refused.
     */
    public DriverBinding bindToVfio(PciAddress address) {
        return bindToVfio(List.of(address)).getFirst();
    }

    /**
     * Binds every device in {@code addresses} to vfio-pci, in order, after checking that each one's IOMMU group
     * will be viable with all of them bound (so the devices of one group go together: binding them one by one
     * would be refused while the others keep their drivers). Nothing is changed when the check fails; when a
     * bind fails midway, the bindings already made are undone.
     *
     * @throws IllegalArgumentException when a device is absent
     * @throws IllegalStateException    when a device has no IOMMU group, its group would not be viable (naming the
     *                                  members and their drivers, and the command that binds them together), or the
     *                                  kernel's bind fails
     */
    public List<DriverBinding> bindToVfio(List<PciAddress> addresses) {
        List<PciDevice> devices = addresses.stream().map(this::require).toList();
        Set<PciAddress> binding = new LinkedHashSet<>(addresses);
        for (PciDevice d : devices) {
            if (d.iommuGroup().isEmpty()) {
                throw new IllegalStateException(d.address() + " has no IOMMU group, so VFIO cannot use it: the IOMMU"
                        + " is off or missing (boot with intel_iommu=on or amd_iommu=on); nothing was changed");
            }
            int group = d.iommuGroup().getAsInt();
            List<PciDevice> blockers = viabilityBlockers(group, binding);
            if (!blockers.isEmpty()) {
                List<String> all = new ArrayList<>(binding.stream().map(PciAddress::toString).toList());
                blockers.forEach(b -> all.add(b.address().toString()));
                throw new IllegalStateException("IOMMU group " + group + " of " + d.address() + " would not be"
                        + " viable: it also holds " + String.join(", ", blockers.stream().map(b -> b.address() + " ("
                        + b.driver().orElseThrow() + ")").toList()) + ", driven by the kernel, and VFIO needs every"
                        + " device of a group bound to vfio-pci or to no driver. Bind them together ('isthmus vfio"
                        + " bind " + String.join(" ", all) + "') or unbind them first; nothing was changed");
            }
        }
        List<DriverBinding> done = new ArrayList<>();
        try {
            for (PciDevice d : devices) {
                done.add(DriverBinding.bind(this, require(d.address()), "vfio-pci"));
            }
        } catch (RuntimeException e) {
            for (DriverBinding b : done.reversed()) {
                try {
                    b.close();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
        return List.copyOf(done);
    }

    /**
     * Unbinds {@code address} from vfio-pci and lets the kernel probe its default driver again (the CLI's
     * {@code unbind}); a no-op when vfio-pci does not drive it.
     */
    public Optional<String> releaseFromVfio(PciAddress address) {
        return DriverBinding.release(this, require(address), "vfio-pci");
    }
}
