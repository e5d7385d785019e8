package io.isthmus.vmm.machine;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code -d}/{@code -D} log: SLF4J (slf4j-simple) writing to the {@code -D} file or stderr. Made only when
 * {@code -d} is given, so a plain run loads no logging classes. Thread-safe (SLF4J loggers are).
 */
final class VmmLog {
    private final Logger guestErrors;
    private final Logger machine;
    private final Logger interrupts;

    private VmmLog() {
        guestErrors = LoggerFactory.getLogger("isthmus.vmm.guest_errors");
        machine = LoggerFactory.getLogger("isthmus.vmm");
        interrupts = LoggerFactory.getLogger("isthmus.vmm.int");
    }

    /** Configures slf4j-simple for {@code file} (null: stderr) and returns the log. */
    static VmmLog open(String file) {
        System.setProperty("org.slf4j.simpleLogger.logFile", file == null ? "System.err" : file);
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
        System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
        System.setProperty("org.slf4j.simpleLogger.showThreadName", "true");
        return new VmmLog();
    }

    void guestError(String line) {
        guestErrors.warn(line);
    }

    void interrupt(String line) {
        interrupts.info(line);
    }

    void info(String line) {
        machine.info(line);
    }
}
