package io.isthmus.vmm.device;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** microvm's ACPI sleep and reset registers at 0xfea00200, as QEMU's {@code acpi_ged_regs_write}. */
class AcpiGedRegsTest {
    private static final long SLEEP_CTL = AcpiGedRegs.BASE, SLEEP_STS = AcpiGedRegs.BASE + 1,
            RESET = AcpiGedRegs.BASE + 2;
    private final FakePlatform platform = new FakePlatform();

    AcpiGedRegsTest() {
        platform.plug(new AcpiGedRegs());
    }

    @Test
    void slpEnWithS5PowersOffWithStatusZero() {
        platform.mmioBus().write(SLEEP_CTL, 1, 0x20 | 5 << 2);
        List<FakePlatform.Request> r = platform.requests();
        assertEquals(1, r.size(), r.toString());
        assertEquals("exit", r.get(0).kind());
        assertEquals(0, r.get(0).status());
    }

    @Test
    void otherSleepStatesAndS5WithoutSlpEnDoNothing() {
        platform.mmioBus().write(SLEEP_CTL, 1, 5 << 2); // S5 without SLP_EN
        platform.mmioBus().write(SLEEP_CTL, 1, 0x20 | 3 << 2); // S3
        platform.mmioBus().write(SLEEP_CTL, 1, 0x20); // S0
        platform.mmioBus().write(SLEEP_STS, 1, 0x20 | 5 << 2); // the status register
        assertEquals(List.of(), platform.requests());
    }

    @Test
    void resetValueResets() {
        platform.mmioBus().write(RESET, 1, 0x42);
        List<FakePlatform.Request> r = platform.requests();
        assertEquals(1, r.size(), r.toString());
        assertEquals("reset", r.get(0).kind());
    }

    @Test
    void otherResetValuesDoNothing() {
        platform.mmioBus().write(RESET, 1, 0x41);
        platform.mmioBus().write(RESET, 1, 0x00);
        platform.mmioBus().write(SLEEP_CTL, 1, 0x42); // the reset value at the wrong register
        assertEquals(List.of(), platform.requests());
    }

    @Test
    void readsZeroAndOccupiesThreeBytes() {
        assertEquals(0, platform.mmioBus().read(SLEEP_CTL, 1));
        assertEquals(0, platform.mmioBus().read(SLEEP_STS, 1));
        assertEquals(0, platform.mmioBus().read(RESET, 1));
        assertEquals(null, platform.mmioBus().deviceAt(AcpiGedRegs.BASE + 3));
        assertEquals(null, platform.mmioBus().deviceAt(AcpiGedRegs.BASE - 1));
    }
}
