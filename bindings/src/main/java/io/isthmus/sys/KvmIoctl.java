package io.isthmus.sys;

import static io.isthmus.sys.Ioc.io;
import static io.isthmus.sys.Ioc.ior;
import static io.isthmus.sys.Ioc.iow;
import static io.isthmus.sys.Ioc.iowr;

/**
 * The KVM ioctl request numbers ({@code linux/kvm.h}), kept by hand because their macros are function-like.
 *
 * <p>Each field is named exactly like its C macro; the layout conformance test compares every one with the
 * value gcc computes from the headers, so a wrong size here fails the build. Requests are grouped by the file
 * descriptor they are issued on; a comment names the capability a request needs where it is not in the base
 * API (version 12).
 */
public final class KvmIoctl {
    private static final int KVMIO = 0xAE;

    private KvmIoctl() {}

    // ---- /dev/kvm (system) ----
    public static final long KVM_GET_API_VERSION = io(KVMIO, 0x00);
    public static final long KVM_CREATE_VM = io(KVMIO, 0x01);
    public static final long KVM_GET_MSR_INDEX_LIST = iowr(KVMIO, 0x02, 4);        // struct kvm_msr_list
    public static final long KVM_CHECK_EXTENSION = io(KVMIO, 0x03);
    public static final long KVM_GET_VCPU_MMAP_SIZE = io(KVMIO, 0x04);
    public static final long KVM_GET_SUPPORTED_CPUID = iowr(KVMIO, 0x05, 8);       // KVM_CAP_EXT_CPUID
    public static final long KVM_GET_EMULATED_CPUID = iowr(KVMIO, 0x09, 8);        // KVM_CAP_EXT_EMUL_CPUID
    public static final long KVM_GET_MSR_FEATURE_INDEX_LIST = iowr(KVMIO, 0x0a, 4); // KVM_CAP_GET_MSR_FEATURES

    // ---- VM ----
    public static final long KVM_CREATE_VCPU = io(KVMIO, 0x41);
    public static final long KVM_GET_DIRTY_LOG = iow(KVMIO, 0x42, 16);              // struct kvm_dirty_log
    public static final long KVM_SET_NR_MMU_PAGES = io(KVMIO, 0x44);
    public static final long KVM_SET_USER_MEMORY_REGION = iow(KVMIO, 0x46, 32);     // KVM_CAP_USER_MEMORY
    public static final long KVM_SET_TSS_ADDR = io(KVMIO, 0x47);                    // KVM_CAP_SET_TSS_ADDR
    public static final long KVM_SET_IDENTITY_MAP_ADDR = iow(KVMIO, 0x48, 8);       // KVM_CAP_SET_IDENTITY_MAP_ADDR
    public static final long KVM_CREATE_IRQCHIP = io(KVMIO, 0x60);                  // KVM_CAP_IRQCHIP
    public static final long KVM_IRQ_LINE = iow(KVMIO, 0x61, 8);                    // KVM_CAP_IRQCHIP
    public static final long KVM_GET_IRQCHIP = iowr(KVMIO, 0x62, 520);              // struct kvm_irqchip
    public static final long KVM_SET_IRQCHIP = ior(KVMIO, 0x63, 520);
    public static final long KVM_IRQ_LINE_STATUS = iowr(KVMIO, 0x67, 8);            // KVM_CAP_IRQ_INJECT_STATUS
    public static final long KVM_SET_GSI_ROUTING = iow(KVMIO, 0x6a, 8);             // KVM_CAP_IRQ_ROUTING
    public static final long KVM_IRQFD = iow(KVMIO, 0x76, 32);                      // KVM_CAP_IRQFD
    public static final long KVM_CREATE_PIT2 = iow(KVMIO, 0x77, 64);                // KVM_CAP_PIT2
    public static final long KVM_SET_BOOT_CPU_ID = io(KVMIO, 0x78);                 // KVM_CAP_SET_BOOT_CPU_ID
    public static final long KVM_IOEVENTFD = iow(KVMIO, 0x79, 64);                  // KVM_CAP_IOEVENTFD
    public static final long KVM_SET_CLOCK = iow(KVMIO, 0x7b, 48);                  // KVM_CAP_ADJUST_CLOCK
    public static final long KVM_GET_CLOCK = ior(KVMIO, 0x7c, 48);
    public static final long KVM_GET_PIT2 = ior(KVMIO, 0x9f, 112);                  // KVM_CAP_PIT_STATE2
    public static final long KVM_SET_PIT2 = iow(KVMIO, 0xa0, 112);
    public static final long KVM_SIGNAL_MSI = iow(KVMIO, 0xa5, 32);                 // KVM_CAP_SIGNAL_MSI
    public static final long KVM_CLEAR_DIRTY_LOG = iowr(KVMIO, 0xc0, 24);           // KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2

    // ---- VM or vCPU ----
    public static final long KVM_ENABLE_CAP = iow(KVMIO, 0xa3, 104);                // KVM_CAP_ENABLE_CAP(_VM)
    public static final long KVM_GET_STATS_FD = io(KVMIO, 0xce);                    // KVM_CAP_BINARY_STATS_FD

    // ---- vCPU ----
    public static final long KVM_RUN = io(KVMIO, 0x80);
    public static final long KVM_GET_REGS = ior(KVMIO, 0x81, 144);                  // struct kvm_regs
    public static final long KVM_SET_REGS = iow(KVMIO, 0x82, 144);
    public static final long KVM_GET_SREGS = ior(KVMIO, 0x83, 312);                 // struct kvm_sregs
    public static final long KVM_SET_SREGS = iow(KVMIO, 0x84, 312);
    public static final long KVM_TRANSLATE = iowr(KVMIO, 0x85, 24);
    public static final long KVM_INTERRUPT = iow(KVMIO, 0x86, 4);
    public static final long KVM_GET_MSRS = iowr(KVMIO, 0x88, 8);                   // struct kvm_msrs
    public static final long KVM_SET_MSRS = iow(KVMIO, 0x89, 8);
    public static final long KVM_SET_SIGNAL_MASK = iow(KVMIO, 0x8b, 4);             // struct kvm_signal_mask
    public static final long KVM_GET_FPU = ior(KVMIO, 0x8c, 416);                   // struct kvm_fpu
    public static final long KVM_SET_FPU = iow(KVMIO, 0x8d, 416);
    public static final long KVM_GET_LAPIC = ior(KVMIO, 0x8e, 1024);                // KVM_CAP_IRQCHIP
    public static final long KVM_SET_LAPIC = iow(KVMIO, 0x8f, 1024);
    public static final long KVM_SET_CPUID2 = iow(KVMIO, 0x90, 8);                  // KVM_CAP_EXT_CPUID
    public static final long KVM_GET_CPUID2 = iowr(KVMIO, 0x91, 8);
    public static final long KVM_GET_MP_STATE = ior(KVMIO, 0x98, 4);                // KVM_CAP_MP_STATE
    public static final long KVM_SET_MP_STATE = iow(KVMIO, 0x99, 4);
    public static final long KVM_SET_GUEST_DEBUG = iow(KVMIO, 0x9b, 72);            // KVM_CAP_SET_GUEST_DEBUG
    public static final long KVM_GET_VCPU_EVENTS = ior(KVMIO, 0x9f, 64);            // KVM_CAP_VCPU_EVENTS
    public static final long KVM_SET_VCPU_EVENTS = iow(KVMIO, 0xa0, 64);
    public static final long KVM_SET_TSC_KHZ = io(KVMIO, 0xa2);                     // KVM_CAP_TSC_CONTROL
    public static final long KVM_GET_TSC_KHZ = io(KVMIO, 0xa3);                     // KVM_CAP_GET_TSC_KHZ
    public static final long KVM_GET_XSAVE = ior(KVMIO, 0xa4, 4096);                // KVM_CAP_XSAVE
    public static final long KVM_SET_XSAVE = iow(KVMIO, 0xa5, 4096);
    public static final long KVM_GET_XCRS = ior(KVMIO, 0xa6, 392);                  // KVM_CAP_XCRS
    public static final long KVM_SET_XCRS = iow(KVMIO, 0xa7, 392);
    public static final long KVM_KVMCLOCK_CTRL = io(KVMIO, 0xad);                   // KVM_CAP_KVMCLOCK_CTRL
}
