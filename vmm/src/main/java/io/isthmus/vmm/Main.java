package io.isthmus.vmm;

import io.isthmus.kvm.Kvm;
import io.isthmus.sys.NativeException;

/**
 * Entry point of {@code bin/isthmus vmm}.
 *
 * <p>Errors are printed as one line and a non-zero exit status; {@code -d}/{@code --verbose} adds the stack
 * trace.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        boolean verbose = false;
        for (String a : args) {
            switch (a) {
                case "-h", "--help" -> {
                    System.out.println("""
                            Usage: isthmus vmm [-d|--verbose]
                              Prints this host's KVM API version and capabilities.
                              -d, --verbose   print stack traces with errors""");
                    return;
                }
                case "-d", "--verbose" -> verbose = true;
                default -> {
                    System.err.println("isthmus vmm: unknown option '" + a + "' (try 'isthmus vmm --help')");
                    System.exit(2);
                }
            }
        }
        try (Kvm kvm = Kvm.open()) {
            System.out.println("KVM API version " + kvm.apiVersion() + ", vCPU mmap size " + kvm.vcpuMmapSize());
        } catch (Kvm.KvmUnavailableException | NativeException | IllegalStateException e) {
            System.err.println("isthmus vmm: " + e.getMessage());
            if (verbose) {
                e.printStackTrace();
            }
            System.exit(1);
        }
    }
}
