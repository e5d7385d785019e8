package io.isthmus.vmm.boot;

/**
 * The vCPU state a loader asks for at entry: the CPU mode and the registers that carry the boot protocol.
 *
 * @param mode CPU mode at entry
 * @param rip  entry point (for real mode: the linear address {@code cs * 16 + ip}, with {@code cs} in rsi's
 *             place... see {@link #realModeCs})
 * @param rax  EAX/RAX (Multiboot: the magic 0x2BADB002; PVH: the same value, which QEMU's firmware leaves)
 * @param rbx  EBX/RBX (Multiboot: the information structure's address; PVH: the hvm_start_info's)
 * @param rcx  ECX/RCX (PVH: the entry point, as QEMU's firmware leaves it)
 * @param rdx  EDX/RDX (Multiboot: 0x511, the fw_cfg port QEMU's Multiboot option ROM leaves in DX)
 * @param rsi  ESI/RSI (Linux 64-bit entry: the boot_params address; PVH: the memory map's, as qboot leaves it)
 * @param rsp  stack pointer
 * @param realModeCs code segment for real-mode entry (also used for all data segments' base when
 *                   {@code realModeDs} is 0)
 * @param realModeDs data segment for real-mode entry
 * @param fwCfg      what the loader tells the firmware through fw_cfg (the kernel, initrd, command-line and setup
 *                   items QEMU fills for this kind of kernel)
 * Immutable.
 */
public record BootState(Mode mode, long rip, long rax, long rbx, long rcx, long rdx, long rsi, long rsp,
                        int realModeCs, int realModeDs, FwCfgKernel fwCfg) {
    /** An entry state with no fw_cfg items (see {@link #withFwCfg}). */
    public BootState(Mode mode, long rip, long rax, long rbx, long rcx, long rdx, long rsi, long rsp, int realModeCs,
                     int realModeDs) {
        this(mode, rip, rax, rbx, rcx, rdx, rsi, rsp, realModeCs, realModeDs, FwCfgKernel.NONE);
    }

    /** This entry state with the loader's fw_cfg items. */
    public BootState withFwCfg(FwCfgKernel items) {
        return new BootState(mode, rip, rax, rbx, rcx, rdx, rsi, rsp, realModeCs, realModeDs, items);
    }

    /** The CPU mode a loader hands over in. */
    public enum Mode { REAL, PROTECTED_FLAT, LONG }

    /**
     * Flat 32-bit protected mode, paging off, CR0 = PE | ET (what QEMU's firmware hands over): the Multiboot entry
     * (PVH uses the same mode with more registers).
     */
    public static BootState protectedFlat(long eip, long eax, long ebx, long edx) {
        return new BootState(Mode.PROTECTED_FLAT, eip, eax, ebx, 0, edx, 0, 0, 0, 0);
    }
}
