package io.isthmus.vfio.pci;

import io.isthmus.vfio.PciAddress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A device bound to a driver (vfio-pci) through {@code driver_override}, with the driver it had before.
 *
 * <p>The sequence is the kernel's documented one: write the driver's name to {@code driver_override}, unbind the
 * current driver, write the address to {@code /sys/bus/pci/drivers_probe}; the override makes the probe pick
 * the named driver. {@link #close()} undoes it once: unbind, clear the override, probe again (the original
 * driver, if any, binds). Needs root; the driver's module must be loaded ({@code modprobe vfio-pci}).
 *
 * <p>Thread-safe in that close runs once; the kernel serialises the sysfs writes.
 */
public final class DriverBinding implements AutoCloseable {
    private final SysfsPci sysfs;
    private final PciAddress address;
    private final String driver;
    private final Optional<String> original;
    private final AtomicBoolean closed = new AtomicBoolean();

    private DriverBinding(SysfsPci sysfs, PciAddress address, String driver, Optional<String> original) {
        this.sysfs = sysfs;
        this.address = address;
        this.driver = driver;
        this.original = original;
    }

    static DriverBinding bind(SysfsPci sysfs, PciDevice dev, String driver) {
        PciAddress a = dev.address();
        Optional<String> original = dev.driver();
        if (original.filter(driver::equals).isPresent()) {
            // Already bound: nothing to undo on close (we did not change it).
            return new DriverBinding(sysfs, a, driver, Optional.of(driver));
        }
        Path drv = sysfs.root().resolve("bus/pci/drivers/" + driver);
        if (!Files.isDirectory(drv)) {
            throw new IllegalStateException("driver " + driver + " is not loaded (no " + drv + "); run 'modprobe "
                    + driver + "' as root");
        }
        write(dev.path().resolve("driver_override"), driver, "set driver_override of " + a);
        if (original.isPresent()) {
            write(dev.path().resolve("driver/unbind"), a.toString(), "unbind " + a + " from " + original.get());
        }
        write(sysfs.root().resolve("bus/pci/drivers_probe"), a.toString(), "probe " + a);
        PciDevice now = sysfs.require(a);
        if (now.driver().filter(driver::equals).isEmpty()) {
            throw new IllegalStateException("binding " + a + " to " + driver + " failed: it is now bound to "
                    + now.driver().orElse("no driver") + " (see dmesg for the probe error)");
        }
        return new DriverBinding(sysfs, a, driver, original);
    }

    static Optional<String> release(SysfsPci sysfs, PciDevice dev, String driver) {
        PciAddress a = dev.address();
        if (dev.driver().filter(driver::equals).isEmpty()) {
            return dev.driver();
        }
        write(dev.path().resolve("driver/unbind"), a.toString(), "unbind " + a + " from " + driver);
        // An empty line clears the override, so the probe falls back to the device's own driver.
        write(dev.path().resolve("driver_override"), "\n", "clear driver_override of " + a);
        write(sysfs.root().resolve("bus/pci/drivers_probe"), a.toString(), "probe " + a);
        return sysfs.require(a).driver();
    }

    private static void write(Path file, String value, String what) {
        try {
            Files.writeString(file, value);
        } catch (IOException e) {
            String why = e.getMessage();
            throw new IllegalStateException(what + ": writing '" + value.trim() + "' to " + file + " failed: " + why
                    + (why != null && why.contains("denied") ? " (run as root)" : ""), e);
        }
    }

    public PciAddress address() {
        return address;
    }

    /** The driver the device had before binding, empty when it had none. */
    public Optional<String> originalDriver() {
        return original;
    }

    /** Restores the original driver (or none); a no-op when the device was already bound before. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true) || original.filter(driver::equals).isPresent()) {
            return;
        }
        release(sysfs, sysfs.require(address), driver);
    }
}
