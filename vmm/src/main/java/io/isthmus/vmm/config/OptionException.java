package io.isthmus.vmm.config;

/**
 * A command line QEMU would reject (or that names something this VMM does not support), with QEMU's message.
 *
 * <p>{@link #format(String)} renders it the way QEMU's {@code error_report} does:
 * {@code PROGRAM: -option value: message}, the location only while the option is being parsed. Immutable.
 */
public final class OptionException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String location;

    /** An error at {@code location} (e.g. {@code "-m abc"}), or anywhere when {@code location} is null. */
    public OptionException(String location, String message) {
        super(message);
        this.location = location;
    }

    /** The option and value being parsed ({@code "-m abc"}), or {@code null}. */
    public String location() {
        return location;
    }

    /** The message as QEMU prints it, each line prefixed as {@code error_report} prefixes its first. */
    public String format(String program) {
        return program + ": " + (location == null ? "" : location + ": ") + getMessage();
    }
}
