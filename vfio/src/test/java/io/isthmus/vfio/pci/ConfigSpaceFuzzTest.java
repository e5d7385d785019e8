package io.isthmus.vfio.pci;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.isthmus.vfio.FuzzCoverage;
import io.isthmus.vfio.PciAddress;
import io.isthmus.vfio.VfioCapability;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The PCI config-space parser on bytes a device (or a dump) controls: the header, the BARs, both capability lists
 * (standard, walked from 0x34, and extended, from 0x100: loops, pointers into the header, truncated entries), the
 * PCIe capability and the lspci-style rendering; the lspci hex-dump reader; VFIO's capability chain as the kernel
 * hands it over; and PCI address text. Each may return anything or throw {@link IllegalArgumentException} with a
 * message, nothing else. Corpus: {@code src/test/resources/io/isthmus/vfio/pci/ConfigSpaceFuzzTestInputs/<method>/},
 * seeded with the config spaces of QEMU's devices and this machine's (src/test/resources/pci).
 */
@ExtendWith(FuzzCoverage.class)
class ConfigSpaceFuzzTest {

    private static void allowOnly(Runnable r) {
        try {
            r.run();
        } catch (IllegalArgumentException e) {
            if (e.getMessage() == null || e.getMessage().isBlank()) {
                throw new AssertionError("IllegalArgumentException without a message", e);
            }
        }
    }

    @FuzzTest
    void configSpace(byte[] bytes) {
        allowOnly(() -> {
            ConfigSpace c = ConfigSpace.of(bytes);
            c.vendorId();
            c.classCode();
            c.subsystemId();
            c.bars();
            if (c.capabilities().size() > 48 + 480) {
                throw new AssertionError("more capabilities than the walk's bounds");
            }
            c.pcie();
            c.renderCapabilities("  ");
            ConfigSpace again = ConfigSpace.parseLspciHex(c.toLspciHex("fuzz"));
            if (!java.util.Arrays.equals(again.bytes(), c.bytes())) {
                throw new AssertionError("the lspci rendering does not read back");
            }
        });
    }

    @FuzzTest
    void lspciHex(byte[] text) {
        allowOnly(() -> {
            ConfigSpace c = ConfigSpace.parseLspciHex(new String(text, StandardCharsets.ISO_8859_1));
            c.capabilities();
            c.renderCapabilities("");
        });
    }

    @FuzzTest
    void vfioCapabilityChain(byte[] info) {
        if (info.length < 4) {
            return;
        }
        long first = (info[0] & 0xffL) | (info[1] & 0xffL) << 8;
        allowOnly(() -> VfioCapability.chain(MemorySegment.ofArray(info.clone()), first));
    }

    @FuzzTest
    void pciAddress(byte[] text) {
        allowOnly(() -> {
            PciAddress a = PciAddress.parse(new String(text, StandardCharsets.ISO_8859_1));
            if (!PciAddress.parse(a.toString()).equals(a)) {
                throw new AssertionError(a + " does not read back");
            }
        });
    }
}
