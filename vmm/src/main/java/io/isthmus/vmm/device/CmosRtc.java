package io.isthmus.vmm.device;

import io.isthmus.kvm.bus.BusDevice;

import java.time.ZoneOffset;
import java.time.ZonedDateTime;

/**
 * An MC146818 CMOS RTC at ports 0x70 (index, bit 7 the NMI mask) and 0x71 (data): the current UTC time in BCD,
 * 24-hour mode, status registers A-D, and the memory-size bytes PC firmware reads (as QEMU's
 * {@code pc_cmos_init} fills them). Writes to the clock are accepted and ignored; other bytes are plain CMOS
 * RAM. Thread-safe: synchronized.
 */
public final class CmosRtc implements BusDevice, Device {
    /** The index and data ports. */
    public static final int PORT = 0x70;
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
            case 0x00 -> bcd(t.getSecond());
            case 0x02 -> bcd(t.getMinute());
            case 0x04 -> bcd(t.getHour());
            case 0x06 -> bcd(t.getDayOfWeek().getValue() % 7 + 1);
            case 0x07 -> bcd(t.getDayOfMonth());
            case 0x08 -> bcd(t.getMonthValue());
            case 0x09 -> bcd(t.getYear() % 100);
            case 0x32 -> bcd(t.getYear() / 100);
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

    private static int bcd(int v) {
        return (v / 10) << 4 | (v % 10);
    }
}
