package io.isthmus.vmm.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isthmus.kvm.bus.PioBus;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/**
 * The MC146818 at ports 0x70/0x71 through the port bus: the index (its NMI bit ignored), the clock in BCD and in
 * binary, 24- and 12-hour modes, the status registers and the memory-size bytes QEMU's {@code pc_cmos_init} sets.
 */
class CmosRtcTest {
    private static final long MIB = 1 << 20;
    private final FakePlatform platform = new FakePlatform();
    private final PioBus bus = platform.pioBus();

    private void plug(long lowRam, long highRam) {
        platform.plug(new CmosRtc(lowRam, highRam));
    }

    private int reg(int index) {
        bus.write(0x70, 1, index);
        return (int) bus.read(0x71, 1);
    }

    private void set(int index, int value) {
        bus.write(0x70, 1, index);
        bus.write(0x71, 1, value);
    }

    private static int fromBcd(int v) {
        assertTrue((v & 0xf) < 10 && (v >> 4) < 10, "not BCD: 0x" + Integer.toHexString(v));
        return (v >> 4) * 10 + (v & 0xf);
    }

    /** The clock as the guest reads it, decoded with {@code bcd}; read twice if a second passed meanwhile. */
    private LocalDateTime clock(boolean bcd) {
        for (int tries = 0; ; tries++) {
            int s = reg(0x00);
            int[] f = {reg(0x02), reg(0x04), reg(0x07), reg(0x08), reg(0x09), reg(0x32)};
            if (reg(0x00) != s && tries < 3) {
                continue;
            }
            int[] d = new int[6];
            for (int i = 0; i < 6; i++) {
                d[i] = bcd ? fromBcd(f[i]) : f[i];
            }
            return LocalDateTime.of(d[5] * 100 + d[4], d[3], d[2], d[1], d[0], bcd ? fromBcd(s) : s);
        }
    }

    private static void assertNow(LocalDateTime t) {
        Duration off = Duration.between(t, LocalDateTime.now(ZoneOffset.UTC)).abs();
        assertTrue(off.toSeconds() <= 2, "RTC reads " + t + ", UTC now is " + LocalDateTime.now(ZoneOffset.UTC));
    }

    @Test
    void clockIsUtcInBcdByDefault() {
        plug(128 * MIB, 0);
        assertEquals(0x26, reg(0x0a), "register A: 32.768 kHz base, 1024 Hz rate");
        assertEquals(0x02, reg(0x0b), "register B: 24-hour, BCD");
        assertEquals(0x80, reg(0x0d), "register D: RAM and time valid");
        assertEquals(0, reg(0x0c), "register C: no interrupt flags");
        assertNow(clock(true));
        int dow = fromBcd(reg(0x06));
        assertEquals(LocalDateTime.now(ZoneOffset.UTC).getDayOfWeek().getValue() % 7 + 1, dow, "Sunday is 1");
    }

    @Test
    void binaryModeWhenTheGuestSetsDm() {
        plug(128 * MIB, 0);
        set(0x0b, 0x06);
        assertEquals(0x06, reg(0x0b));
        assertNow(clock(false));
    }

    @Test
    void twelveHourModeWhenTheGuestClears24h() {
        plug(128 * MIB, 0);
        set(0x0b, 0x04); // binary, 12-hour
        int h;
        int hour;
        do {
            hour = LocalDateTime.now(ZoneOffset.UTC).getHour();
            h = reg(0x04);
        } while (LocalDateTime.now(ZoneOffset.UTC).getHour() != hour);
        assertEquals(hour >= 12, (h & 0x80) != 0, "PM bit, hour " + hour + " read 0x" + Integer.toHexString(h));
        assertEquals(hour % 12 == 0 ? 12 : hour % 12, h & 0x7f);
    }

    @Test
    void nmiBitOfTheIndexIsNotPartOfIt() {
        plug(128 * MIB, 0);
        assertEquals(0x26, reg(0x80 | 0x0a));
        set(0x80 | 0x40, 0x5a);
        assertEquals(0x5a, reg(0x40));
    }

    @Test
    void indexPortReadsAllOnes() {
        plug(128 * MIB, 0);
        bus.write(0x70, 1, 0x0a);
        assertEquals(0xff, bus.read(0x70, 1));
        assertEquals(0x26, bus.read(0x71, 1), "reading the index port does not change it");
    }

    @Test
    void cmosRamKeepsWhatIsWrittenButTheClockAndStatusDoNot() {
        plug(128 * MIB, 0);
        set(0x7f, 0xa5);
        set(0x0e, 0x11);
        assertEquals(0xa5, reg(0x7f));
        assertEquals(0x11, reg(0x0e));
        set(0x0c, 0xff);
        set(0x0d, 0x00);
        assertEquals(0, reg(0x0c));
        assertEquals(0x80, reg(0x0d));
        set(0x09, 0x99); // the year: writes are ignored, it stays the host's
        assertNow(clock(true));
    }

    @Test
    void memorySizesAsPcCmosInit() {
        plug(16 * MIB, 0);
        assertEquals(0x80, reg(0x15));
        assertEquals(0x02, reg(0x16), "640 KiB base memory");
        int ext = reg(0x17) | reg(0x18) << 8;
        assertEquals(15 * 1024, ext, "KiB above 1 MiB");
        assertEquals(ext, reg(0x30) | reg(0x31) << 8);
        assertEquals(0, reg(0x34) | reg(0x35) << 8, "nothing above 16 MiB");
    }

    @Test
    void largeMemoryIsClampedAndHighMemoryCounted() {
        plug(0xc000_0000L, 4096 * MIB);
        assertEquals(0xffff, reg(0x17) | reg(0x18) << 8, "clamped to 65535 KiB");
        assertEquals((0xc000_0000L - 16 * MIB) >> 16, reg(0x34) | reg(0x35) << 8, "64 KiB units above 16 MiB");
        assertEquals((4096 * MIB) >> 16, reg(0x5b) | reg(0x5c) << 8 | reg(0x5d) << 16, "64 KiB units above 4 GiB");
    }
}
