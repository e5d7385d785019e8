package io.isthmus.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;

/**
 * Every literal in {@link KvmAbi} equals the offset or size the generated jextract layout gives for the same
 * field, and every literal is checked (a constant added without a row here fails too).
 */
class KvmAbiTest {
    /** Constant name, then the generated path: {@code struct.field[.field...]}, or {@code struct#} for its size. */
    private static final String[][] PATHS = {
                {"RUN_SIZE", "kvm_run#"},
                {"RUN_REQUEST_INTERRUPT_WINDOW", "kvm_run.request_interrupt_window"},
                {"RUN_IMMEDIATE_EXIT", "kvm_run.immediate_exit"},
                {"RUN_EXIT_REASON", "kvm_run.exit_reason"},
                {"RUN_READY_FOR_INTERRUPT_INJECTION", "kvm_run.ready_for_interrupt_injection"},
                {"RUN_IF_FLAG", "kvm_run.if_flag"},
                {"RUN_CR8", "kvm_run.cr8"},
                {"RUN_APIC_BASE", "kvm_run.apic_base"},
                {"RUN_IO_DIRECTION", "kvm_run.io.direction"},
                {"RUN_IO_SIZE", "kvm_run.io.size"},
                {"RUN_IO_PORT", "kvm_run.io.port"},
                {"RUN_IO_COUNT", "kvm_run.io.count"},
                {"RUN_IO_DATA_OFFSET", "kvm_run.io.data_offset"},
                {"RUN_MMIO_PHYS_ADDR", "kvm_run.mmio.phys_addr"},
                {"RUN_MMIO_DATA", "kvm_run.mmio.data"},
                {"RUN_MMIO_LEN", "kvm_run.mmio.len"},
                {"RUN_MMIO_IS_WRITE", "kvm_run.mmio.is_write"},
                {"RUN_FAIL_ENTRY_REASON", "kvm_run.fail_entry.hardware_entry_failure_reason"},
                {"RUN_FAIL_ENTRY_CPU", "kvm_run.fail_entry.cpu"},
                {"RUN_HW_EXIT_REASON", "kvm_run.hw.hardware_exit_reason"},
                {"RUN_INTERNAL_SUBERROR", "kvm_run.internal.suberror"},
                {"RUN_INTERNAL_NDATA", "kvm_run.internal.ndata"},
                {"RUN_INTERNAL_DATA", "kvm_run.internal.data"},
                {"RUN_SYSTEM_EVENT_TYPE", "kvm_run.system_event.type"},
                {"RUN_SYSTEM_EVENT_NDATA", "kvm_run.system_event.ndata"},
                {"RUN_SYSTEM_EVENT_DATA", "kvm_run.system_event.data"},
                {"RUN_EX_EXCEPTION", "kvm_run.ex.exception"},
                {"RUN_EX_ERROR_CODE", "kvm_run.ex.error_code"},
                {"RUN_EOI_VECTOR", "kvm_run.eoi.vector"},
                {"REGS_SIZE", "kvm_regs#"},
                {"REGS_RAX", "kvm_regs.rax"},
                {"REGS_RBX", "kvm_regs.rbx"},
                {"REGS_RCX", "kvm_regs.rcx"},
                {"REGS_RDX", "kvm_regs.rdx"},
                {"REGS_RSI", "kvm_regs.rsi"},
                {"REGS_RDI", "kvm_regs.rdi"},
                {"REGS_RSP", "kvm_regs.rsp"},
                {"REGS_RBP", "kvm_regs.rbp"},
                {"REGS_R8", "kvm_regs.r8"},
                {"REGS_R9", "kvm_regs.r9"},
                {"REGS_R10", "kvm_regs.r10"},
                {"REGS_R11", "kvm_regs.r11"},
                {"REGS_R12", "kvm_regs.r12"},
                {"REGS_R13", "kvm_regs.r13"},
                {"REGS_R14", "kvm_regs.r14"},
                {"REGS_R15", "kvm_regs.r15"},
                {"REGS_RIP", "kvm_regs.rip"},
                {"REGS_RFLAGS", "kvm_regs.rflags"},
                {"SREGS_SIZE", "kvm_sregs#"},
                {"SREGS_CS", "kvm_sregs.cs"},
                {"SREGS_DS", "kvm_sregs.ds"},
                {"SREGS_ES", "kvm_sregs.es"},
                {"SREGS_FS", "kvm_sregs.fs"},
                {"SREGS_GS", "kvm_sregs.gs"},
                {"SREGS_SS", "kvm_sregs.ss"},
                {"SREGS_TR", "kvm_sregs.tr"},
                {"SREGS_LDT", "kvm_sregs.ldt"},
                {"SREGS_GDT", "kvm_sregs.gdt"},
                {"SREGS_IDT", "kvm_sregs.idt"},
                {"SREGS_CR0", "kvm_sregs.cr0"},
                {"SREGS_CR2", "kvm_sregs.cr2"},
                {"SREGS_CR3", "kvm_sregs.cr3"},
                {"SREGS_CR4", "kvm_sregs.cr4"},
                {"SREGS_CR8", "kvm_sregs.cr8"},
                {"SREGS_EFER", "kvm_sregs.efer"},
                {"SREGS_APIC_BASE", "kvm_sregs.apic_base"},
                {"SREGS_INTERRUPT_BITMAP", "kvm_sregs.interrupt_bitmap"},
                {"SEGMENT_SIZE", "kvm_segment#"},
                {"SEGMENT_BASE", "kvm_segment.base"},
                {"SEGMENT_LIMIT", "kvm_segment.limit"},
                {"SEGMENT_SELECTOR", "kvm_segment.selector"},
                {"SEGMENT_TYPE", "kvm_segment.type"},
                {"SEGMENT_PRESENT", "kvm_segment.present"},
                {"SEGMENT_DPL", "kvm_segment.dpl"},
                {"SEGMENT_DB", "kvm_segment.db"},
                {"SEGMENT_S", "kvm_segment.s"},
                {"SEGMENT_L", "kvm_segment.l"},
                {"SEGMENT_G", "kvm_segment.g"},
                {"SEGMENT_AVL", "kvm_segment.avl"},
                {"SEGMENT_UNUSABLE", "kvm_segment.unusable"},
                {"DTABLE_BASE", "kvm_dtable.base"},
                {"DTABLE_LIMIT", "kvm_dtable.limit"},
                {"CPUID2_SIZE", "kvm_cpuid2#"},
                {"CPUID2_NENT", "kvm_cpuid2.nent"},
                {"CPUID_ENTRY2_SIZE", "kvm_cpuid_entry2#"},
                {"CPUID_ENTRY2_FUNCTION", "kvm_cpuid_entry2.function"},
                {"CPUID_ENTRY2_INDEX", "kvm_cpuid_entry2.index"},
                {"CPUID_ENTRY2_FLAGS", "kvm_cpuid_entry2.flags"},
                {"CPUID_ENTRY2_EAX", "kvm_cpuid_entry2.eax"},
                {"CPUID_ENTRY2_EBX", "kvm_cpuid_entry2.ebx"},
                {"CPUID_ENTRY2_ECX", "kvm_cpuid_entry2.ecx"},
                {"CPUID_ENTRY2_EDX", "kvm_cpuid_entry2.edx"},
                {"MEMORY_REGION_SIZE", "kvm_userspace_memory_region#"},
                {"MEMORY_REGION_SLOT", "kvm_userspace_memory_region.slot"},
                {"MEMORY_REGION_FLAGS", "kvm_userspace_memory_region.flags"},
                {"MEMORY_REGION_GUEST_PHYS_ADDR", "kvm_userspace_memory_region.guest_phys_addr"},
                {"MEMORY_REGION_MEMORY_SIZE", "kvm_userspace_memory_region.memory_size"},
                {"MEMORY_REGION_USERSPACE_ADDR", "kvm_userspace_memory_region.userspace_addr"},
                {"SIGNAL_MASK_SIZE", "kvm_signal_mask#"},
                {"SIGNAL_MASK_LEN", "kvm_signal_mask.len"},
                {"IRQ_LEVEL_SIZE", "kvm_irq_level#"},
                {"IRQ_LEVEL_IRQ", "kvm_irq_level.irq"},
                {"IRQ_LEVEL_LEVEL", "kvm_irq_level.level"},
                {"MSI_SIZE", "kvm_msi#"},
                {"MSI_ADDRESS_LO", "kvm_msi.address_lo"},
                {"MSI_ADDRESS_HI", "kvm_msi.address_hi"},
                {"MSI_DATA", "kvm_msi.data"},
                {"MSI_FLAGS", "kvm_msi.flags"},
                {"ENABLE_CAP_SIZE", "kvm_enable_cap#"},
                {"ENABLE_CAP_CAP", "kvm_enable_cap.cap"},
                {"ENABLE_CAP_FLAGS", "kvm_enable_cap.flags"},
                {"ENABLE_CAP_ARGS", "kvm_enable_cap.args"},
                {"INTERRUPT_SIZE", "kvm_interrupt#"},
                {"INTERRUPT_IRQ", "kvm_interrupt.irq"},
                {"PIT_CONFIG_SIZE", "kvm_pit_config#"},
                {"PIT_CONFIG_FLAGS", "kvm_pit_config.flags"},
                {"IRQ_ROUTING_SIZE", "kvm_irq_routing#"},
                {"IRQ_ROUTING_NR", "kvm_irq_routing.nr"},
                {"IRQ_ROUTING_FLAGS", "kvm_irq_routing.flags"},
                {"IRQ_ROUTING_ENTRY_SIZE", "kvm_irq_routing_entry#"},
                {"IRQ_ROUTING_ENTRY_GSI", "kvm_irq_routing_entry.gsi"},
                {"IRQ_ROUTING_ENTRY_TYPE", "kvm_irq_routing_entry.type"},
                {"IRQ_ROUTING_ENTRY_FLAGS", "kvm_irq_routing_entry.flags"},
                {"IRQ_ROUTING_ENTRY_U", "kvm_irq_routing_entry.u"},
                {"ROUTING_MSI_ADDRESS_LO", "kvm_irq_routing_msi.address_lo"},
                {"ROUTING_MSI_ADDRESS_HI", "kvm_irq_routing_msi.address_hi"},
                {"ROUTING_MSI_DATA", "kvm_irq_routing_msi.data"},
                {"LAPIC_STATE_SIZE", "kvm_lapic_state#"}
    };

    @Test
    void everyLiteralMatchesTheGeneratedLayout() throws Exception {
        List<String> wrong = new ArrayList<>();
        Set<String> checked = new HashSet<>();
        for (String[] row : PATHS) {
            long expected = resolve(row[1]);
            long actual = KvmAbi.class.getDeclaredField(row[0]).getLong(null);
            if (expected != actual) {
                wrong.add("KvmAbi." + row[0] + " = " + actual + ", generated " + row[1] + " = " + expected);
            }
            checked.add(row[0]);
        }
        assertEquals(List.of(), wrong);
        for (Field f : KvmAbi.class.getDeclaredFields()) {
            if (Modifier.isStatic(f.getModifiers())) {
                assertTrue(checked.contains(f.getName()), "KvmAbi." + f.getName() + " has no row in KvmAbiTest");
            }
        }
    }

    /** Walks {@code kvm_run.io.port}: the outer class's {@code io$offset()} plus its nested {@code io} class's {@code port$offset()}. */
    private static long resolve(String path) throws Exception {
        String pkg = "io.isthmus.bindings.kvm.";
        if (path.endsWith("#")) {
            return (long) Class.forName(pkg + path.substring(0, path.length() - 1)).getMethod("sizeof").invoke(null);
        }
        String[] parts = path.split("\\.");
        Class<?> c = Class.forName(pkg + parts[0]);
        long offset = 0;
        for (int i = 1; i < parts.length; i++) {
            offset += (long) c.getMethod(parts[i] + "$offset").invoke(null);
            if (i + 1 < parts.length) {
                Class<?> nested = null;
                for (Class<?> k : c.getDeclaredClasses()) {
                    if (k.getSimpleName().equals(parts[i])) {
                        nested = k;
                    }
                }
                c = nested;
            }
        }
        return offset;
    }
}
