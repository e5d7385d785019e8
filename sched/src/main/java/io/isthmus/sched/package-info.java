/**
 * Divides one GPU engine's time among vGPUs by policy: {@link io.isthmus.sched.GpuScheduler} (the run loop, caps and
 * reservations), {@link io.isthmus.sched.VGpu} (lock-free submission), the configuration records, and work items.
 */
package io.isthmus.sched;
