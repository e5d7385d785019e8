/**
 * The GPU time-slice scheduler: vGPU shares by policy over a {@code GpuEngine}; the engines (a deterministic simulated
 * one, a host engine that runs the kernel set on a host thread, a CUDA engine); the vGPU backend a virtio device calls
 * ({@code io.isthmus.sched.vgpu}); host tenant runs; metrics, JFR events, and the {@code isthmus sched} command line.
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
    requires com.fasterxml.jackson.databind;

    exports io.isthmus.sched;
    exports io.isthmus.sched.policy;
    exports io.isthmus.sched.engine;
    exports io.isthmus.sched.vgpu;
    exports io.isthmus.sched.run;
    exports io.isthmus.sched.cuda;
    exports io.isthmus.sched.sim;
    exports io.isthmus.sched.metrics;
    exports io.isthmus.sched.jfr;

    opens io.isthmus.sched.cli to info.picocli;
}
