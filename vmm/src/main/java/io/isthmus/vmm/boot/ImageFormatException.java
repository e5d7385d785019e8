package io.isthmus.vmm.boot;

/**
 * A kernel, module or initrd the loaders cannot load: the message names the file, the header and the offset at
 * fault, and what would make it loadable. Immutable.
 */
public final class ImageFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** An error with a complete message. */
    public ImageFormatException(String message) {
        super(message);
    }
}
