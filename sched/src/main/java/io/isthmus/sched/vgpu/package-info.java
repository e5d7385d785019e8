/**
 * The vGPU backend a paravirtual GPU device calls: {@link io.isthmus.sched.vgpu.VgpuHost} (one engine shared by
 * vGPUs, its scheduler thread), {@link io.isthmus.sched.vgpu.VgpuContext} (one vGPU: submit requests, get
 * completions), {@link io.isthmus.sched.vgpu.VgpuRequest}, the op and status codes, and the wire layout
 * ({@link io.isthmus.sched.vgpu.VgpuWire}).
 */
package io.isthmus.sched.vgpu;
