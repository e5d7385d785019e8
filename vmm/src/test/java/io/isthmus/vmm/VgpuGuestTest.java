package io.isthmus.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The vGPU end to end in a KVM guest: the 64-bit guest driver (vmm/src/test/guests/vgpu.c) finds the isthmus-vgpu on
 * its virtio-mmio transport, runs a mixed workload on the host engine with requests in flight, checks the SAXPY result
 * it copies back, and checks that each hostile request gets its error completion while the device keeps serving.
 */
@Tag("kvm")
class VgpuGuestTest {

    static TestGuests.Result run(String append, String device) {
        List<String> args = new ArrayList<>(List.of("-m", "64M", "-serial", "stdio", "-kernel",
                TestGuests.guest("vgpu.elf").toString(), "-append", append, "-device", device));
        args.addAll(TestGuests.EXIT_DEVICE);
        return TestGuests.isthmus(args);
    }

    @Test
    void guestDriverRunsAMixedWorkloadAndHostileRequests() {
        TestGuests.Result r = run("requests=400 depth=16 mix=spin:20,saxpy:4096,copy:16384,matmul:16 hostile",
                "isthmus-vgpu,weight=2,memory=1M");
        String out = r.out().replace("\r\n", "\n");
        assertEquals(99, r.status(), out + "\nstderr: " + r.stderr());
        assertTrue(out.contains("vgpu: memory=1048576 weight=2 cap=100 kernels=0x1e"), out);
        assertTrue(out.contains("vgpu: requests=400 errors=0 depth=16"), out);
        assertTrue(out.contains("vgpu: saxpy result checked, 4096 elements"), out);
        for (String k : List.of("spin:20 done=100", "saxpy:4096 done=100", "copy:16384 done=100", "matmul:16 done=100")) {
            assertTrue(out.contains("vgpu: kernel " + k + " gpu_ns="), k + " in\n" + out);
        }
        assertTrue(out.contains("hostile: an op that does not exist: status 1\n"), out);
        assertTrue(out.endsWith("vgpu: ok\n"), out);
    }

    @Test
    void aGuestWithoutTheDeviceSaysSo() {
        List<String> args = new ArrayList<>(List.of("-serial", "stdio", "-kernel",
                TestGuests.guest("vgpu.elf").toString()));
        args.addAll(TestGuests.EXIT_DEVICE);
        TestGuests.Result r = TestGuests.isthmus(args);
        assertEquals(101, r.status());
        assertTrue(r.out().contains("no isthmus-vgpu"), r.out());
    }
}
