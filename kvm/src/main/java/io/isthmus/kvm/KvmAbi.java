package io.isthmus.kvm;

/**
 * Offsets and sizes, as literals, of the kvm structs on a VM's boot path and its exit loop.
 *
 * <p>Why not the generated classes ({@code io.isthmus.bindings.kvm.kvm_run} and friends): their static
 * initialisers build the whole {@code MemoryLayout} tree of each struct and its nested unions (hundreds of
 * layouts for {@code kvm_run} alone), which cost ~30 ms of CPU at VMM startup; a literal costs nothing. The
 * generated layouts stay the source of truth: {@code KvmAbiTest} checks every constant here against them by
 * name (the bindings' own layout test checks those against the C headers with gcc), so a wrong or stale literal
 * fails the build. Names: {@code STRUCT_FIELD} offsets and {@code STRUCT_SIZE} sizes, in bytes; a nested union
 * member's offset is from the start of the outer struct.
 */
final class KvmAbi {
    private KvmAbi() {}

    // struct kvm_run
    static final long RUN_SIZE = 2352;
    static final long RUN_REQUEST_INTERRUPT_WINDOW = 0;
    static final long RUN_IMMEDIATE_EXIT = 1;
    static final long RUN_EXIT_REASON = 8;
    static final long RUN_READY_FOR_INTERRUPT_INJECTION = 12;
    static final long RUN_IF_FLAG = 13;
    static final long RUN_CR8 = 16;
    static final long RUN_APIC_BASE = 24;
    static final long RUN_IO_DIRECTION = 32;
    static final long RUN_IO_SIZE = 33;
    static final long RUN_IO_PORT = 34;
    static final long RUN_IO_COUNT = 36;
    static final long RUN_IO_DATA_OFFSET = 40;
    static final long RUN_MMIO_PHYS_ADDR = 32;
    static final long RUN_MMIO_DATA = 40;
    static final long RUN_MMIO_LEN = 48;
    static final long RUN_MMIO_IS_WRITE = 52;
    static final long RUN_FAIL_ENTRY_REASON = 32;
    static final long RUN_FAIL_ENTRY_CPU = 40;
    static final long RUN_HW_EXIT_REASON = 32;
    static final long RUN_INTERNAL_SUBERROR = 32;
    static final long RUN_INTERNAL_NDATA = 36;
    static final long RUN_INTERNAL_DATA = 40;
    static final long RUN_SYSTEM_EVENT_TYPE = 32;
    static final long RUN_SYSTEM_EVENT_NDATA = 36;
    static final long RUN_SYSTEM_EVENT_DATA = 40;
    static final long RUN_EX_EXCEPTION = 32;
    static final long RUN_EX_ERROR_CODE = 36;
    static final long RUN_EOI_VECTOR = 32;

    // struct kvm_regs
    static final long REGS_SIZE = 144;
    static final long REGS_RAX = 0;
    static final long REGS_RBX = 8;
    static final long REGS_RCX = 16;
    static final long REGS_RDX = 24;
    static final long REGS_RSI = 32;
    static final long REGS_RDI = 40;
    static final long REGS_RSP = 48;
    static final long REGS_RBP = 56;
    static final long REGS_R8 = 64;
    static final long REGS_R9 = 72;
    static final long REGS_R10 = 80;
    static final long REGS_R11 = 88;
    static final long REGS_R12 = 96;
    static final long REGS_R13 = 104;
    static final long REGS_R14 = 112;
    static final long REGS_R15 = 120;
    static final long REGS_RIP = 128;
    static final long REGS_RFLAGS = 136;

    // struct kvm_sregs
    static final long SREGS_SIZE = 312;
    static final long SREGS_CS = 0;
    static final long SREGS_DS = 24;
    static final long SREGS_ES = 48;
    static final long SREGS_FS = 72;
    static final long SREGS_GS = 96;
    static final long SREGS_SS = 120;
    static final long SREGS_TR = 144;
    static final long SREGS_LDT = 168;
    static final long SREGS_GDT = 192;
    static final long SREGS_IDT = 208;
    static final long SREGS_CR0 = 224;
    static final long SREGS_CR2 = 232;
    static final long SREGS_CR3 = 240;
    static final long SREGS_CR4 = 248;
    static final long SREGS_CR8 = 256;
    static final long SREGS_EFER = 264;
    static final long SREGS_APIC_BASE = 272;
    static final long SREGS_INTERRUPT_BITMAP = 280;

    // struct kvm_segment
    static final long SEGMENT_SIZE = 24;
    static final long SEGMENT_BASE = 0;
    static final long SEGMENT_LIMIT = 8;
    static final long SEGMENT_SELECTOR = 12;
    static final long SEGMENT_TYPE = 14;
    static final long SEGMENT_PRESENT = 15;
    static final long SEGMENT_DPL = 16;
    static final long SEGMENT_DB = 17;
    static final long SEGMENT_S = 18;
    static final long SEGMENT_L = 19;
    static final long SEGMENT_G = 20;
    static final long SEGMENT_AVL = 21;
    static final long SEGMENT_UNUSABLE = 22;

    // struct kvm_dtable
    static final long DTABLE_BASE = 0;
    static final long DTABLE_LIMIT = 8;

    // struct kvm_cpuid2
    static final long CPUID2_SIZE = 8;
    static final long CPUID2_NENT = 0;

    // struct kvm_cpuid_entry2
    static final long CPUID_ENTRY2_SIZE = 40;
    static final long CPUID_ENTRY2_FUNCTION = 0;
    static final long CPUID_ENTRY2_INDEX = 4;
    static final long CPUID_ENTRY2_FLAGS = 8;
    static final long CPUID_ENTRY2_EAX = 12;
    static final long CPUID_ENTRY2_EBX = 16;
    static final long CPUID_ENTRY2_ECX = 20;
    static final long CPUID_ENTRY2_EDX = 24;

    // struct kvm_userspace_memory_region
    static final long MEMORY_REGION_SIZE = 32;
    static final long MEMORY_REGION_SLOT = 0;
    static final long MEMORY_REGION_FLAGS = 4;
    static final long MEMORY_REGION_GUEST_PHYS_ADDR = 8;
    static final long MEMORY_REGION_MEMORY_SIZE = 16;
    static final long MEMORY_REGION_USERSPACE_ADDR = 24;

    // struct kvm_signal_mask
    static final long SIGNAL_MASK_SIZE = 4;
    static final long SIGNAL_MASK_LEN = 0;

    // struct kvm_irq_level
    static final long IRQ_LEVEL_SIZE = 8;
    static final long IRQ_LEVEL_IRQ = 0;
    static final long IRQ_LEVEL_LEVEL = 4;

    // struct kvm_msi
    static final long MSI_SIZE = 32;
    static final long MSI_ADDRESS_LO = 0;
    static final long MSI_ADDRESS_HI = 4;
    static final long MSI_DATA = 8;
    static final long MSI_FLAGS = 12;

    // struct kvm_enable_cap
    static final long ENABLE_CAP_SIZE = 104;
    static final long ENABLE_CAP_CAP = 0;
    static final long ENABLE_CAP_FLAGS = 4;
    static final long ENABLE_CAP_ARGS = 8;

    // struct kvm_interrupt
    static final long INTERRUPT_SIZE = 4;
    static final long INTERRUPT_IRQ = 0;

    // struct kvm_pit_config
    static final long PIT_CONFIG_SIZE = 64;
    static final long PIT_CONFIG_FLAGS = 0;

    // struct kvm_irq_routing
    static final long IRQ_ROUTING_SIZE = 8;
    static final long IRQ_ROUTING_NR = 0;
    static final long IRQ_ROUTING_FLAGS = 4;

    // struct kvm_irq_routing_entry
    static final long IRQ_ROUTING_ENTRY_SIZE = 48;
    static final long IRQ_ROUTING_ENTRY_GSI = 0;
    static final long IRQ_ROUTING_ENTRY_TYPE = 4;
    static final long IRQ_ROUTING_ENTRY_FLAGS = 8;
    static final long IRQ_ROUTING_ENTRY_U = 16;

    // struct kvm_irq_routing_msi
    static final long ROUTING_MSI_ADDRESS_LO = 0;
    static final long ROUTING_MSI_ADDRESS_HI = 4;
    static final long ROUTING_MSI_DATA = 8;

    // struct kvm_lapic_state
    static final long LAPIC_STATE_SIZE = 1024;
}
