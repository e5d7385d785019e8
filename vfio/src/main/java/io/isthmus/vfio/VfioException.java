package io.isthmus.vfio;

import io.isthmus.sys.NativeException;

/**
 * A VFIO operation failed. {@link #step()} names the step (as rust-vmm's vfio-ioctls does: {@code OpenContainer},
 * {@code IommuDmaMap}, …); when the kernel refused, the cause is the {@link NativeException} carrying errno.
 *
 * <p>Immutable; safe to share between threads.
 */
public final class VfioException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The step that failed. */
    public enum Step {
        OPEN_CONTAINER, API_VERSION, CHECK_EXTENSION, SET_IOMMU, IOMMU_GET_INFO, IOMMU_DMA_MAP, IOMMU_DMA_UNMAP,
        OPEN_GROUP, GROUP_GET_STATUS, GROUP_NOT_VIABLE, GROUP_SET_CONTAINER, GROUP_UNSET_CONTAINER,
        GROUP_GET_DEVICE_FD, DEVICE_GET_INFO, DEVICE_GET_REGION_INFO, REGION_MMAP, REGION_READ, REGION_WRITE,
        DEVICE_GET_IRQ_INFO, DEVICE_SET_IRQS, DEVICE_RESET, INVALID_ARGUMENT,
        /** Finding a device's IOMMU group and driver in sysfs, before any VFIO call ({@code VfioContainer.device}). */
        FIND_DEVICE,
        /** A PCI command-register bit that did not read back as written ({@code VfioDevice.setCommandBits}). */
        PCI_COMMAND
    }

    private final Step step;
    private final int errno;

    /** A failure of {@code step} that the kernel reported with {@code -result} (errno). */
    public static VfioException kernel(Step step, String what, int negErrno) {
        NativeException cause = new NativeException(what, -negErrno);
        return new VfioException(step, cause.getMessage(), cause, -negErrno);
    }

    /**
     * A failure of {@code step} reported by the kernel, explained by {@code hint} (what it means, how to fix it);
     * the errno and the failed call stay in the message and the cause.
     */
    public static VfioException kernel(Step step, String what, int negErrno, String hint) {
        if (hint == null) {
            return kernel(step, what, negErrno);
        }
        NativeException cause = new NativeException(what, -negErrno);
        return new VfioException(step, hint + " (" + cause.getMessage() + ")", cause, -negErrno);
    }

    /** A failure of {@code step} found by Isthmus itself (no errno). */
    public VfioException(Step step, String message) {
        this(step, message, null, 0);
    }

    private VfioException(Step step, String message, Throwable cause, int errno) {
        super(stepName(step) + ": " + message, cause);
        this.step = step;
        this.errno = errno;
    }

    /** The failing step. */
    public Step step() {
        return step;
    }

    /** errno from the kernel, or 0 when the failure was found before any system call. */
    public int errno() {
        return errno;
    }

    private static String stepName(Step step) {
        // OPEN_CONTAINER -> OpenContainer: the names rust-vmm uses, readable in one line.
        StringBuilder sb = new StringBuilder();
        for (String part : step.name().split("_")) {
            sb.append(part.charAt(0)).append(part.substring(1).toLowerCase(java.util.Locale.ROOT));
        }
        return sb.toString();
    }
}
