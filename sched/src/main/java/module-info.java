/** The GPU time-slice scheduler: vGPU shares by policy over a {@code GpuEngine}. */
module io.isthmus.sched {
    requires org.slf4j;
}
