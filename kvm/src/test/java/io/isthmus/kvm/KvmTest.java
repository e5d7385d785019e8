package io.isthmus.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

class KvmTest {

    @Test
    @Tag("kvm")
    void opensDevKvmWithApiVersion12() {
        try (Kvm kvm = Kvm.open()) {
            assertEquals(12, kvm.apiVersion());
            assertTrue(kvm.vcpuMmapSize() >= 4096);
        }
    }

    @Test
    void missingDeviceSaysWhatToDo() {
        var e = assertThrows(Kvm.KvmUnavailableException.class, () -> Kvm.open("/nonexistent/kvm"));
        assertTrue(e.getMessage().startsWith("/nonexistent/kvm does not exist"), e.getMessage());
    }
}
