package io.isthmus.vmm.boot;

/**
 * Where loaders write guest-physical memory: the kvm module's {@code GuestMemory} in the VMM, a byte array in
 * loader unit tests. Writes outside RAM throw.
 *
 * <p>Thread-safety: that of the implementation; loaders run before any vCPU starts.
 */
public interface GuestRam {
    /** Copies {@code len} bytes of {@code src} from {@code off} to guest-physical {@code gpa}. */
    void write(long gpa, byte[] src, int off, int len);

    /** Whether {@code [gpa, gpa + len)} is all RAM. */
    boolean isRam(long gpa, long len);

    /** Copies all of {@code src} to {@code gpa}. */
    default void write(long gpa, byte[] src) {
        write(gpa, src, 0, src.length);
    }

    /** Writes a little-endian 32-bit value. */
    default void writeInt(long gpa, int v) {
        write(gpa, new byte[] {(byte) v, (byte) (v >>> 8), (byte) (v >>> 16), (byte) (v >>> 24)});
    }

    /** Writes a little-endian 16-bit value. */
    default void writeShort(long gpa, int v) {
        write(gpa, new byte[] {(byte) v, (byte) (v >>> 8)});
    }

    /** Writes a little-endian 64-bit value. */
    default void writeLong(long gpa, long v) {
        writeInt(gpa, (int) v);
        writeInt(gpa + 4, (int) (v >>> 32));
    }

    /** Writes a NUL-terminated Latin-1 string. */
    default void writeCString(long gpa, String s) {
        byte[] b = new byte[s.length() + 1];
        for (int i = 0; i < s.length(); i++) {
            b[i] = (byte) s.charAt(i);
        }
        write(gpa, b);
    }
}
