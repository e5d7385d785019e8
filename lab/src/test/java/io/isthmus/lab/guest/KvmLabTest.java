package io.isthmus.lab.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.bindings.kvm.kvm_h;
import io.isthmus.bindings.kvm.kvm_run;
import io.isthmus.bindings.kvm.kvm_userspace_memory_region;
import io.isthmus.sys.Fd;
import io.isthmus.sys.KvmIoctl;
import io.isthmus.sys.Libc;
import io.isthmus.sys.Mmap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Runs in the lab guest: KVM works there (kvm_amd on QEMU's emulated SVM with nested paging), down to running
 * guest code, with raw ioctls only.
 */
@Tag("lab")
class KvmLabTest {

    @Test
    void devKvmAnswersApiVersion12() {
        assertTrue(Files.exists(Path.of("/dev/kvm")), "/dev/kvm is missing: kvm and kvm_amd did not load");
        try (Fd kvm = Fd.open("/dev/kvm", Libc.O_RDWR | Libc.O_CLOEXEC)) {
            assertEquals(12, kvm.ioctl(KvmIoctl.KVM_GET_API_VERSION));
            assertEquals(kvm_h.KVM_API_VERSION(), kvm.ioctl(KvmIoctl.KVM_GET_API_VERSION));
        }
    }

    @Test
    void nestedGuestRunsToHlt() {
        // A vCPU starts in real mode at the reset vector 0xfffffff0 (CS base 0xffff0000, IP 0xfff0): put a
        // HLT there in a 64 KiB slot at 0xffff0000 and expect KVM_EXIT_HLT from the first KVM_RUN.
        try (Arena arena = Arena.ofConfined();
             Fd kvm = Fd.open("/dev/kvm", Libc.O_RDWR | Libc.O_CLOEXEC);
             Fd vm = Fd.adopt(kvm.ioctl(KvmIoctl.KVM_CREATE_VM, 0), "kvm-vm")) {
            long size = 0x10000;
            MemorySegment ram = Mmap.anonymous(arena, size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE, "guest ram");
            ram.set(ValueLayout.JAVA_BYTE, 0xfff0, (byte) 0xf4); // hlt
            MemorySegment region = arena.allocate(kvm_userspace_memory_region.layout());
            kvm_userspace_memory_region.slot(region, 0);
            kvm_userspace_memory_region.guest_phys_addr(region, 0xffff0000L);
            kvm_userspace_memory_region.memory_size(region, size);
            kvm_userspace_memory_region.userspace_addr(region, ram.address());
            vm.ioctl(KvmIoctl.KVM_SET_USER_MEMORY_REGION, region);

            int mmapSize = kvm.ioctl(KvmIoctl.KVM_GET_VCPU_MMAP_SIZE);
            try (Fd vcpu = Fd.adopt(vm.ioctl(KvmIoctl.KVM_CREATE_VCPU, 0), "kvm-vcpu 0");
                 Arena runArena = Arena.ofConfined()) {
                MemorySegment run = Mmap.map(runArena, vcpu, 0, mmapSize, Libc.PROT_READ | Libc.PROT_WRITE,
                        Libc.MAP_SHARED, "kvm_run of kvm-vcpu 0");
                vcpu.ioctl(KvmIoctl.KVM_RUN);
                assertEquals(kvm_h.KVM_EXIT_HLT(), kvm_run.exit_reason(run), "exit reason of the first KVM_RUN");
            }
        }
    }
}
