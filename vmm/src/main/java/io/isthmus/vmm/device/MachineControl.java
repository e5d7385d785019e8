package io.isthmus.vmm.device;

/**
 * What a device may ask of the machine: power off with an exit status, or reset. Implemented by the machine;
 * callable from any thread (a vCPU thread, usually).
 */
public interface MachineControl {
    /** The guest asked to leave with process exit status {@code status} (isa-debug-exit, ACPI power-off). */
    void exit(int status, String why);

    /** The guest asked for a reset (i8042, ACPI reset register); the machine honours -no-reboot. */
    void reset(String why);
}
