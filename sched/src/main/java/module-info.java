/**
 * The GPU time-slice scheduler: vGPU shares by policy over a {@code GpuEngine}, a deterministic simulated engine,
 * metrics, JFR events, and the {@code isthmus sched} command line.
 */
module io.isthmus.sched {
    requires org.slf4j;
    requires jdk.jfr;
    requires java.desktop;
    requires org.jctools.core;
    requires HdrHistogram;
    requires info.picocli;
    requires org.knowm.xchart;
    requires me.tongfei.progressbar;
    requires io.isthmus.bindings;

    exports io.isthmus.sched;
    exports io.isthmus.sched.policy;
    exports io.isthmus.sched.engine;
    exports io.isthmus.sched.vgpu;
    exports io.isthmus.sched.sim;
    exports io.isthmus.sched.metrics;
    exports io.isthmus.sched.jfr;

    opens io.isthmus.sched.cli to info.picocli;
}
