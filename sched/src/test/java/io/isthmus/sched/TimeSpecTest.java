package io.isthmus.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.isthmus.sched.engine.TimeSpec;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;

/** Durations on the command line: every unit from ns to h, and nothing that is not a plain number with a unit. */
class TimeSpecTest {
    @Example
    void everyUnitParses() {
        assertEquals(250, TimeSpec.parseNanos("250ns"));
        assertEquals(500_000, TimeSpec.parseNanos("500us"));
        assertEquals(500_000, TimeSpec.parseNanos("500µs"));
        assertEquals(2_000_000, TimeSpec.parseNanos("2ms"));
        assertEquals(1_500_000_000L, TimeSpec.parseNanos("1.5s"));
        assertEquals(120_000_000_000L, TimeSpec.parseNanos("2m"));
        assertEquals(3_600_000_000_000L, TimeSpec.parseNanos("1h"));
        assertEquals(5_400_000_000_000L, TimeSpec.parseNanos(" 1.5H "));
    }

    @Example
    void whatIsNotAPlainNumberWithAUnitIsRefused() {
        for (String bad : new String[] {"10", "s", "NaNs", "Infinityh", "0x10s", "1e400h", "1.5.2s", "2 m s", "10d"}) {
            assertThrows(ConfigurationException.class, () -> TimeSpec.parseNanos(bad), bad);
        }
    }

    @Property(tries = 50)
    void formatThenParseKeepsThreeDigits(@ForAll @LongRange(min = 1, max = 100L * 3_600_000_000_000L) long nanos) {
        long back = TimeSpec.parseNanos(TimeSpec.format(nanos));
        assertEquals(nanos, back, nanos * 0.005 + 0.5, TimeSpec.format(nanos));
    }
}
