package io.isthmus.sched;

/**
 * A scheduler configuration that cannot work: a weight, share, slice, frequency or policy out of range. The message
 * says what is wrong, where (which vGPU or option) and how to fix it; it is thrown when the configuration is made, never
 * later from the hot path. Immutable.
 */
public final class ConfigurationException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** @param message what is wrong, where, and how to fix it */
    public ConfigurationException(String message) {
        super(message);
    }
}
