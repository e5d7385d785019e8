package io.isthmus.sched;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** How the engine's time is divided among vGPUs. Immutable. */
public enum Policy {
    /** Round robin among vGPUs that have work; work-conserving (the engine never idles while work waits). */
    BEST_EFFORT("best-effort", true),
    /** Each joined vGPU gets 1/N of the time whether or not it has work; an idle vGPU's turn stays idle. */
    EQUAL_SHARE("equal-share", false),
    /** Each vGPU gets 1/(maximum vGPUs per GPU) of the time however many have joined; empty slots stay idle. */
    FIXED_SHARE("fixed-share", false),
    /** Weighted proportional share with bounded lag (EEVDF-style virtual time, overruns carried as debt). */
    WEIGHTED("weighted", true);

    private final String cliName;
    private final boolean workConserving;

    Policy(String cliName, boolean workConserving) {
        this.cliName = cliName;
        this.workConserving = workConserving;
    }

    /** @return the name used on the command line, e.g. {@code best-effort} */
    public String cliName() {
        return cliName;
    }

    /** @return whether the engine is given to another vGPU when the one whose turn it is has no work */
    public boolean workConserving() {
        return workConserving;
    }

    /**
     * Parses a policy name, case-insensitively, with {@code _} or {@code -}.
     *
     * @throws ConfigurationException naming the accepted policies when {@code name} is none of them
     */
    public static Policy parse(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        for (Policy p : values()) {
            if (p.cliName.equals(n)) {
                return p;
            }
        }
        throw new ConfigurationException("unknown scheduling policy '" + name + "'; use one of: "
                + Arrays.stream(values()).map(Policy::cliName).collect(Collectors.joining(", ")));
    }

    @Override
    public String toString() {
        return cliName;
    }
}
