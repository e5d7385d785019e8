package io.isthmus.kvm;

import io.isthmus.sys.Errno;
import io.isthmus.sys.Fd;
import io.isthmus.sys.KvmIoctl;
import io.isthmus.sys.Libc;
import io.isthmus.sys.NativeException;

/**
 * The KVM system: an open {@code /dev/kvm}.
 *
 * <p>Lifetime: from {@link #open()} to {@link #close()}; VMs made from it stay valid after it closes, as in
 * the kernel. Thread-safe: its queries are independent ioctls.
 */
public final class Kvm implements AutoCloseable {
    /** The only stable KVM API version. */
    public static final int API_VERSION = 12;
    public static final String DEVICE = "/dev/kvm";

    private final Fd fd;

    private Kvm(Fd fd) {
        this.fd = fd;
    }

    /** Opens {@code /dev/kvm} and checks that it speaks API version 12. */
    public static Kvm open() {
        return open(DEVICE);
    }

    /** Opens a KVM device at {@code path}; see {@link #open()}. */
    public static Kvm open(String path) {
        Fd fd;
        try {
            fd = Fd.open(path, Libc.O_RDWR | Libc.O_CLOEXEC);
        } catch (NativeException e) {
            throw new KvmUnavailableException(path, e);
        }
        Kvm kvm = new Kvm(fd);
        int version = kvm.apiVersion();
        if (version != API_VERSION) {
            kvm.close();
            throw new IllegalStateException(path + " speaks KVM API version " + version + ", Isthmus needs "
                    + API_VERSION);
        }
        return kvm;
    }

    /** The descriptor of {@code /dev/kvm}. */
    public Fd fd() {
        return fd;
    }

    /** {@code KVM_GET_API_VERSION}. */
    public int apiVersion() {
        return fd.ioctl(KvmIoctl.KVM_GET_API_VERSION);
    }

    /** {@code KVM_CHECK_EXTENSION}: 0 when {@code capability} is absent, else a capability-specific value. */
    public int checkExtension(int capability) {
        return fd.ioctl(KvmIoctl.KVM_CHECK_EXTENSION, capability);
    }

    /** {@code KVM_GET_VCPU_MMAP_SIZE}: the size of each vCPU's shared {@code kvm_run} mapping. */
    public int vcpuMmapSize() {
        return fd.ioctl(KvmIoctl.KVM_GET_VCPU_MMAP_SIZE);
    }

    @Override
    public void close() {
        fd.close();
    }

    /**
     * {@code /dev/kvm} could not be opened; the message says why and how to fix it.
     *
     * <p>Immutable.
     */
    public static final class KvmUnavailableException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        KvmUnavailableException(String path, NativeException cause) {
            super(message(path, cause.errno()), cause);
        }

        private static String message(String path, int errno) {
            return switch (errno) {
                case Errno.ENOENT -> path + " does not exist: KVM is not available on this machine. Load the kvm"
                        + " module (modprobe kvm_intel or kvm_amd) or enable virtualization in the firmware or the"
                        + " hypervisor hosting this machine.";
                case Errno.EACCES, Errno.EPERM -> "no permission to open " + path + ": add your user to the kvm"
                        + " group (sudo usermod -aG kvm $USER, then log in again) or run as root.";
                default -> "cannot open " + path + ": " + Errno.symbol(errno) + " (" + Errno.text(errno) + ")";
            };
        }
    }
}
