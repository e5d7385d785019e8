/**
 * Safe, small types over the KVM ioctls, each made by its parent, each an {@link java.lang.AutoCloseable} that
 * closes once.
 *
 * <h2>Objects and lifetimes</h2>
 * <pre>
 *   Kvm.open()                          /dev/kvm: capabilities, supported CPUID, MSR lists, vCPU mmap size
 *    └─ kvm.createVm() → Vm             memory slots, dirty log, irqchip/PIT, irq lines, irqfd, ioeventfd, stats
 *        └─ vm.createVcpu(id) → Vcpu    regs/sregs/FPU/MSRs/CPUID2/LAPIC/MP state, KVM_RUN over KvmRun, stats
 *   GuestMemory.builder()…build()       guest RAM regions (anonymous or memfd, optional huge pages)
 * </pre>
 * Closing a {@link io.isthmus.kvm.Vm} closes its vCPUs (unmapping their {@code kvm_run}); close VMs before the
 * {@link io.isthmus.kvm.memory.GuestMemory} registered in them, and stop vCPU threads before closing vCPUs.
 * Kernel failures are {@link io.isthmus.sys.NativeException}s naming the ioctl, the object (and slot, vCPU id,
 * MSR…) and errno; a failed call leaves the object as it was and closeable.
 *
 * <h2>Running a guest</h2>
 * <pre>{@code
 * try (Kvm kvm = Kvm.open(); GuestMemory ram = GuestMemory.anonymous(1 << 20); Vm vm = kvm.createVm()) {
 *     vm.addMemory(ram, 0);                            // slot per region
 *     ram.write(0x1000, code);
 *     Vcpu vcpu = vm.createVcpu(0);
 *     CpuModes.longMode(vcpu, ram, 0x500, 0x10000, 1, 0x1000); // or realMode / protectedMode32
 *     PioBus pio = new PioBus();
 *     pio.insert(0x3f8, 8, serial, "serial");          // BusDevice: read(offset,size) / write(offset,size,value)
 *     VcpuThread t = VcpuThread.start(vcpu, new ExitDispatcher(pio, new MmioBus()), ExitHandler.STOP);
 *     t.pause(); ... vcpu.getRegs() ... t.resume();   // from any thread
 *     VcpuExit exit = t.stop();                         // or t.awaitExit(timeout): HLT, SHUTDOWN, ...
 * }
 * }</pre>
 *
 * <h2>Hot path</h2>
 * {@link io.isthmus.kvm.Vcpu#runRaw()} returns 0 or {@code -errno} and never throws;
 * {@link io.isthmus.kvm.KvmRun} is a flyweight read in place; {@link io.isthmus.kvm.run.ExitDispatcher} passes
 * values as {@code long}s. Nothing on the exit path allocates (checked by {@code KvmExitBenchmark -prof gc}).
 *
 * <h2>Packages</h2>
 * {@code io.isthmus.kvm.memory} guest RAM and {@code GuestAddress}; {@code io.isthmus.kvm.bus} PIO/MMIO buses;
 * {@code io.isthmus.kvm.run} the vCPU thread, kicks, exit dispatch; {@code io.isthmus.kvm.x86} CPU mode setup.
 */
package io.isthmus.kvm;
