package io.isthmus.kvm;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Test guests: assembly sources under {@code src/test/guests}, assembled with gcc and linked flat at the address
 * they run from by {@code src/test/guests/build.sh} when Maven builds the tests, into the test classes'
 * {@code guests/} folder. Prebuilt, not built at test time, so the tests also run where there is no gcc: inside the
 * lab guest, on its nested KVM. Results are cached per JVM.
 */
public final class Guests {
    private static final Map<String, byte[]> CACHE = new ConcurrentHashMap<>();

    private Guests() {}

    /** The flat binary of guest {@code name} (without .S) linked to run at guest-physical {@code origin}. */
    public static byte[] build(String name, long origin) {
        return CACHE.computeIfAbsent(name + "-" + Long.toHexString(origin), Guests::load);
    }

    private static byte[] load(String key) {
        try (InputStream in = Guests.class.getResourceAsStream("/guests/" + key + ".bin")) {
            if (in == null) {
                throw new IllegalArgumentException("no prebuilt test guest guests/" + key + ".bin on the class path:"
                        + " kvm/src/test/guests/build.sh makes every guests/*.S at 0x1000 when Maven builds the tests"
                        + " (a guest at another origin needs a line there)");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
