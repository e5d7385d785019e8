package io.isthmus.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.kvm.memory.GuestMemory;
import io.isthmus.sys.Errno;
import io.isthmus.sys.Libc;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Opening a VM with memory and a vCPU, with each system call in turn failing ({@link Libc.FailNth}, as the kernel's
 * {@code fail-nth}): every failure names its step and errno, and leaves no descriptor or KVM/memfd mapping behind.
 */
@Tag("kvm")
class FailNthTest {
    /** A failed step as this toolkit names it: the ioctl, or the call and what it was for. */
    static final Pattern STEP = Pattern.compile("ioctl KVM_[A-Z0-9_]+|open /dev/kvm|/dev/kvm|mmap |memfd_create|"
            + "ftruncate|madvise|eventfd");

    @AfterEach
    void disarm() {
        Libc.FailNth.disarm();
    }

    static void openVm() {
        try (Kvm kvm = Kvm.open();
                GuestMemory mem = GuestMemory.builder().memfd(true).region(0, 0x10000).build();
                Vm vm = kvm.createVm()) {
            vm.addMemory(mem, MemorySlot.LOG_DIRTY_PAGES);
            Vcpu v = vm.createVcpu(0);
            v.setRegs(v.getRegs());
            v.getSregs();
        }
    }

    @Test
    void everyFailingCallIsNamedAndLeavesNothingBehind() {
        for (int i = 0; i < 3; i++) {
            openVm(); // warm: classes loaded, per-thread scratch made, the page size read
        }
        ProcessResources before = ProcessResources.now();
        List<String> failures = new ArrayList<>();
        int n = 1;
        for (; n < 200; n++) {
            Libc.FailNth.arm(n, Errno.ENOMEM);
            RuntimeException failure = null;
            try {
                openVm();
            } catch (RuntimeException e) {
                failure = e;
            }
            boolean fired = Libc.FailNth.disarm();
            if (!fired) {
                assertEquals(null, failure, "nothing was failed, yet the operation failed");
                break;
            }
            ProcessResources after = ProcessResources.now();
            if (failure == null) {
                failures.add(n + ": tolerated");
            } else {
                String m = String.valueOf(failure.getMessage());
                assertTrue(m.contains("ENOMEM") && STEP.matcher(m).find(), "call " + n + ": " + failure);
                failures.add(n + ": " + m);
            }
            assertEquals(before.fds(), after.fds(), "descriptors after failing call " + n + ": " + failures.getLast());
            assertEquals(before.kvmMappings(), after.kvmMappings(), "KVM/memfd mappings after failing call " + n
                    + ": " + failures.getLast());
        }
        assertTrue(n > 5 && n < 200, n - 1 + " counted calls: " + failures);
        System.out.println("FailNthTest: " + (n - 1) + " calls failed in turn:\n  " + String.join("\n  ", failures));
    }
}
