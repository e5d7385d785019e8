package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;

import java.time.ZoneOffset;
import java.time.ZonedDateTime;

/**
 * An MC146818 CMOS RTC at ports 0x70 (index, bit 7 the NMI mask) and 0x71 (data): the current UTC time in BCD,
 * 24-hour mode (binary and 12-hour when the guest sets register B so), status registers A-D, and the memory-size bytes PC firmware reads (as QEMU's
 * {@code pc_cmos_init} fills them). Writes to the clock are accepted and ignored; other bytes are plain CMOS
 * RAM. Thread-safe: synchronized.
 */
public final class CmosRtc implements BusDevice, Device {
    /** The index and data ports. */
    public static final int PORT = 0x70;
    /** Register B's data-mode (binary) and 24-hour bits. */
    private static final int REG_B_DM = 0x04, REG_B_24H = 0x02;
    private final byte[] ram = new byte[128];
    private int index;

    @Override
    public void plug(Platform platform) {
        platform.pio(PORT, 2, this, "rtc");
    }

    /** An RTC reporting {@code lowRam} bytes below 4 GiB and {@code highRam} above. */
    public CmosRtc(long lowRam, long highRam) {
        ram[0x0a] = 0x26;
        ram[0x0b] = 0x02;
        ram[0x0d] = (byte) 0x80;
        ram[0x15] = (byte) 0x80; // 640 KiB base memory
        ram[0x16] = 0x02;
        long ext = Math.min(Math.max(lowRam - (1 << 20), 0) / 1024, 65535);
        ram[0x17] = ram[0x30] = (byte) ext;
        ram[0x18] = ram[0x31] = (byte) (ext >> 8);
        long above16 = Math.min(Math.max(lowRam - (16 << 20), 0) >> 16, 65535);
        ram[0x34] = (byte) above16;
        ram[0x35] = (byte) (above16 >> 8);
        long high = highRam >> 16;
        ram[0x5b] = (byte) high;
        ram[0x5c] = (byte) (high >> 8);
        ram[0x5d] = (byte) (high >> 16);
    }

    @Override
    public synchronized long read(long offset, int size) {
        if (offset == 0) {
            return 0xff;
        }
        ZonedDateTime t = ZonedDateTime.now(ZoneOffset.UTC);
        return switch (index) {
            case 0x00 -> encode(t.getSecond());
            case 0x02 -> encode(t.getMinute());
            case 0x04 -> hours(t.getHour());
            case 0x06 -> encode(t.getDayOfWeek().getValue() % 7 + 1);
            case 0x07 -> encode(t.getDayOfMonth());
            case 0x08 -> encode(t.getMonthValue());
            case 0x09 -> encode(t.getYear() % 100);
            case 0x32 -> encode(t.getYear() / 100);
            case 0x0c -> 0;
            default -> ram[index] & 0xff;
        };
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        if (offset == 0) {
            index = (int) value & 0x7f;
        } else if (index >= 0x0e && index != 0x32) {
            ram[index] = (byte) value;
        } else if (index == 0x0a || index == 0x0b) {
            ram[index] = (byte) value;
        }
    }

    /** A clock field in the format register B selects: binary (DM set) or BCD, as QEMU's {@code rtc_to_bcd}. */
    private int encode(int v) {
        return (ram[0x0b] & REG_B_DM) != 0 ? v : (v / 10) << 4 | (v % 10);
    }

    /** The hour in 24-hour mode, or 1-12 with bit 7 for PM in 12-hour mode (register B's 24/12 bit clear). */
    private int hours(int h) {
        if ((ram[0x0b] & REG_B_24H) != 0) {
            return encode(h);
        }
        return encode(h % 12 == 0 ? 12 : h % 12) | (h >= 12 ? 0x80 : 0);
    }
}
