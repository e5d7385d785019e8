package io.isthmus.lab;

/**
 * The outcome of one test that ran inside the lab guest, as the JUnit console launcher reported it.
 *
 * <p>Immutable; safe to share between threads.
 *
 * @param className the test class
 * @param name      the test's name (method and parameters, as JUnit's XML report writes it)
 * @param status    passed, failed (assertion or error) or skipped
 * @param message   the failure or skip message, or empty
 * @param detail    the failure's stack trace as the guest printed it, or empty
 * @param seconds   how long the test took in the guest
 */
public record GuestTestResult(String className, String name, Status status, String message, String detail,
                              double seconds) {

    /** How a guest test ended. */
    public enum Status { PASSED, FAILED, SKIPPED }

    /** The class name without its package, for display. */
    public String simpleClassName() {
        return className.substring(className.lastIndexOf('.') + 1);
    }
}
