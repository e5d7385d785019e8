package io.isthmus.vmm.boot;

/**
 * The Linux x86 boot protocol (bzImage). Placeholder until implemented: recognises the setup header.
 */
public final class LinuxLoader {
    private LinuxLoader() {}

    /** Whether {@code image} carries the "HdrS" setup-header signature at 0x202. */
    public static boolean isBzImage(byte[] image) {
        return image.length >= 0x206 && image[0x202] == 'H' && image[0x203] == 'd' && image[0x204] == 'r'
                && image[0x205] == 'S';
    }

    /** Loads a bzImage. */
    public static BootState load(byte[] image, String path, String cmdline, String initrd, MemoryMap map,
                                 GuestRam ram) {
        throw new ImageFormatException(path + ": Linux boot protocol images are not supported yet");
    }
}
