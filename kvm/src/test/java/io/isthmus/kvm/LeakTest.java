package io.isthmus.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.isthmus.kvm.memory.GuestMemory;

/** Creating and closing 1,000 VMs leaves the process's descriptors and mappings where they started. */
@Tag("kvm")
class LeakTest {

    private static long fds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    private static List<String> maps() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/maps"));
    }

    private static long kvmMaps(List<String> maps) {
        return maps.stream().filter(l -> l.contains("kvm")).count();
    }

    private static void cycle(Kvm kvm) {
        try (GuestMemory mem = GuestMemory.builder().memfd(true).region(0, 0x10000).build(); Vm vm = kvm.createVm()) {
            vm.addMemory(mem, MemorySlot.LOG_DIRTY_PAGES);
            Vcpu v = vm.createVcpu(0);
            v.getRegs();
            v.run().exitReason();
        }
    }

    @Test
    void thousandVmsLeaveNothingBehind() throws IOException {
        try (Kvm kvm = Kvm.open()) {
            for (int i = 0; i < 20; i++) {
                cycle(kvm); // warm up: classes loaded, thread-local scratch allocated
            }
            long fdsBefore = fds();
            List<String> mapsBefore = maps();
            for (int i = 0; i < 1000; i++) {
                cycle(kvm);
            }
            List<String> mapsAfter = maps();
            assertEquals(fdsBefore, fds(), "open descriptors");
            assertEquals(kvmMaps(mapsBefore), kvmMaps(mapsAfter), "kvm_run mappings");
            // The JVM maps and unmaps memory of its own (code cache, GC, thread stacks); 1,000 leaked VMs would
            // leave at least 1,000 kvm_run and 1,000 guest RAM mappings.
            assertTrue(Math.abs(mapsAfter.size() - mapsBefore.size()) < 50,
                    "mappings before " + mapsBefore.size() + ", after " + mapsAfter.size());
        }
    }
}
