package io.isthmus.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.isthmus.kvm.TestVm.Mode;
import io.isthmus.kvm.bus.BusDevice;
import io.isthmus.kvm.run.VcpuThread;

/**
 * The exit path allocates nothing once compiled: counted with the thread's allocated-bytes counter around windows
 * of real exits, for the inline loop (runRaw + dispatch) and for a {@link VcpuThread}. The interpreter and C1
 * allocate in the FFM and VarHandle plumbing that C2 removes, so the property is that a window of 5,000 exits
 * allocates nothing within the first 100 windows. (Speed is JMH's job: KvmExitBenchmark.)
 */
@Tag("kvm")
class HotPathAllocationTest {
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    static final class Sink implements BusDevice {
        volatile long last;

        @Override
        public long read(long offset, int size) {
            return last;
        }

        @Override
        public void write(long offset, int size, long value) {
            last = value;
        }
    }

    @Test
    void inlineExitLoopAllocatesNothing() {
        try (TestVm t = new TestVm()) {
            Sink sink = new Sink();
            t.pio.insert(0x10, 4, sink, "sink");
            Vcpu v = t.vcpu(0, Mode.PROTECTED, "pio_loop");
            KvmRun run = v.run();
            long allocated = -1;
            int window = 0;
            for (; window < 100 && allocated != 0; window++) {
                long before = THREADS.getCurrentThreadAllocatedBytes();
                exits(v, run, t, 5000);
                allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
            }
            assertEquals(0, allocated, "bytes allocated by the last 5,000 exits of " + window + " windows");
            assertEquals(5000L * window, sink.last);
        }
    }

    private static void exits(Vcpu v, KvmRun run, TestVm t, int n) {
        for (int i = 0; i < n; i++) {
            if (v.runRaw() != 0 || !t.dispatcher.dispatch(run)) {
                throw new AssertionError("unexpected exit " + KvmRun.exitName(run.exitReason()));
            }
        }
    }

    @Test
    void vcpuThreadAllocatesNothingPerExit() throws Exception {
        try (TestVm t = new TestVm()) {
            Sink sink = new Sink();
            t.pio.insert(0x10, 4, sink, "sink");
            VcpuThread thread = t.start(t.vcpu(0, Mode.PROTECTED, "pio_loop"));
            while (sink.last < 2000) {
                Thread.sleep(1);
            }
            long tid = threadId("vcpu-0");
            long allocated = -1, exits = 0;
            for (int window = 0; window < 100 && allocated != 0; window++) {
                long before = THREADS.getThreadAllocatedBytes(tid);
                long exitsBefore = thread.exits();
                while (thread.exits() < exitsBefore + 5000) {
                    Thread.sleep(1);
                }
                allocated = THREADS.getThreadAllocatedBytes(tid) - before;
                exits = thread.exits() - exitsBefore;
            }
            thread.stop();
            assertEquals(0, allocated, allocated + " bytes over " + exits + " exits");
        }
    }

    private static long threadId(String name) {
        return Thread.getAllStackTraces().keySet().stream().filter(th -> th.getName().equals(name)).findFirst()
                .orElseThrow().threadId();
    }

}
