package io.isthmus.kvm;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import io.isthmus.bindings.kvm.kvm_msr_list;
import io.isthmus.sys.Errno;
import io.isthmus.sys.Fd;
import io.isthmus.sys.KvmIoctl;
import io.isthmus.sys.Libc;
import io.isthmus.sys.NativeException;

/**
 * The KVM system: an open {@code /dev/kvm}, and the parent of every {@link Vm}.
 *
 * <p>Lifetime: from {@link #open()} to {@link #close()}; VMs made from it stay valid after it closes, as in
 * the kernel. Thread-safe: its queries are independent ioctls, and the cached supported-CPUID table is
 * computed once.
 */
public final class Kvm implements AutoCloseable {
    /** The only stable KVM API version. */
    public static final int API_VERSION = 12;
    public static final String DEVICE = "/dev/kvm";

    /** Capability numbers ({@code KVM_CAP_*}) used by this module; any other number works with {@link #checkExtension}. */
    public static final int CAP_IRQCHIP = 0, CAP_USER_MEMORY = 3, CAP_SET_TSS_ADDR = 4, CAP_EXT_CPUID = 7,
            CAP_NR_VCPUS = 9, CAP_NR_MEMSLOTS = 10, CAP_PIT2 = 33, CAP_IRQFD = 32, CAP_IOEVENTFD = 36,
            CAP_SET_IDENTITY_MAP_ADDR = 37, CAP_MAX_VCPUS = 66, CAP_READONLY_MEM = 81, CAP_IMMEDIATE_EXIT = 136,
            CAP_MAX_VCPU_ID = 128, CAP_SPLIT_IRQCHIP = 121, CAP_BINARY_STATS_FD = 203;

    private final Fd fd;
    private volatile Cpuid supportedCpuid;

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
        int version;
        try {
            version = kvm.apiVersion();
        } catch (RuntimeException e) {
            kvm.close(); // found by FailNthTest: a failing KVM_GET_API_VERSION leaked the descriptor
            throw e;
        }
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

    /** Whether {@code capability} is present. */
    public boolean has(int capability) {
        return checkExtension(capability) > 0;
    }

    /**
     * Throws {@link UnsupportedOperationException} naming {@code capability} when it is absent; for callers that
     * fail fast on what they need.
     */
    public void require(int capability, String name) {
        if (!has(capability)) {
            throw new UnsupportedOperationException("this kernel's KVM lacks " + name + " (capability " + capability
                    + ")");
        }
    }

    /** {@code KVM_GET_VCPU_MMAP_SIZE}: the size of each vCPU's shared {@code kvm_run} mapping. */
    public int vcpuMmapSize() {
        return fd.ioctl(KvmIoctl.KVM_GET_VCPU_MMAP_SIZE);
    }

    /** The recommended maximum vCPUs per VM ({@code KVM_CAP_NR_VCPUS}). */
    public int recommendedVcpus() {
        int n = checkExtension(CAP_NR_VCPUS);
        return n > 0 ? n : 4;
    }

    /** The hard maximum vCPUs per VM ({@code KVM_CAP_MAX_VCPUS}). */
    public int maxVcpus() {
        int n = checkExtension(CAP_MAX_VCPUS);
        return n > 0 ? n : recommendedVcpus();
    }

    /** The largest vCPU id plus one ({@code KVM_CAP_MAX_VCPU_ID}). */
    public int maxVcpuId() {
        int n = checkExtension(CAP_MAX_VCPU_ID);
        return n > 0 ? n : maxVcpus();
    }

    /** Memory slots per address space ({@code KVM_CAP_NR_MEMSLOTS}). */
    public int memorySlots() {
        return checkExtension(CAP_NR_MEMSLOTS);
    }

    /** Whether VMs and vCPUs offer binary statistics ({@code KVM_CAP_BINARY_STATS_FD}, Linux 5.14+). */
    public boolean hasBinaryStats() {
        return has(CAP_BINARY_STATS_FD);
    }

    /** {@code KVM_CREATE_VM} (default machine type): a new, empty VM. */
    public Vm createVm() {
        return Vm.create(this, fd.ioctl(KvmIoctl.KVM_CREATE_VM, 0));
    }

    /**
     * {@code KVM_GET_SUPPORTED_CPUID}: the CPUID leaves KVM can offer a guest, fetched once and cached. Returns a
     * fresh copy each call, so callers may edit it.
     */
    public Cpuid supportedCpuid() {
        Cpuid c = supportedCpuid;
        if (c == null) {
            synchronized (this) {
                c = supportedCpuid;
                if (c == null) {
                    c = fetchCpuid(KvmIoctl.KVM_GET_SUPPORTED_CPUID);
                    supportedCpuid = c;
                }
            }
        }
        return Cpuid.copyOf(c, c.size());
    }

    /** {@code KVM_GET_EMULATED_CPUID}: leaves KVM emulates even when the host CPU lacks them. */
    public Cpuid emulatedCpuid() {
        return fetchCpuid(KvmIoctl.KVM_GET_EMULATED_CPUID);
    }

    private Cpuid fetchCpuid(long request) {
        // The kernel says E2BIG until the buffer is large enough; grow and retry.
        for (int capacity = 64; ; capacity *= 2) {
            Cpuid c = new Cpuid(capacity);
            int r = Libc.ioctl(fd.get(), request, c.segment());
            if (r >= 0) {
                return c;
            }
            if (-r != Errno.E2BIG || capacity > 4096) {
                throw new NativeException(fd.describe(request), -r);
            }
        }
    }

    /** {@code KVM_GET_MSR_INDEX_LIST}: the MSRs {@code KVM_GET_MSRS}/{@code KVM_SET_MSRS} support. */
    public int[] msrIndexList() {
        return msrList(KvmIoctl.KVM_GET_MSR_INDEX_LIST);
    }

    /** {@code KVM_GET_MSR_FEATURE_INDEX_LIST}: the feature MSRs ({@code KVM_CAP_GET_MSR_FEATURES}). */
    public int[] msrFeatureIndexList() {
        return msrList(KvmIoctl.KVM_GET_MSR_FEATURE_INDEX_LIST);
    }

    private int[] msrList(long request) {
        try (Arena arena = Arena.ofConfined()) {
            long header = kvm_msr_list.sizeof();
            MemorySegment probe = arena.allocate(header, 4);
            int r = Libc.ioctl(fd.get(), request, probe); // nmsrs = 0: E2BIG, with nmsrs set to the count
            if (r < 0 && -r != Errno.E2BIG) {
                throw new NativeException(fd.describe(request), -r);
            }
            int n = kvm_msr_list.nmsrs(probe);
            MemorySegment list = arena.allocate(header + 4L * n, 4);
            kvm_msr_list.nmsrs(list, n);
            fd.ioctl(request, list);
            return list.asSlice(header, 4L * kvm_msr_list.nmsrs(list)).toArray(JAVA_INT);
        }
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
