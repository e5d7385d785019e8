/**
 * The {@code isthmus demo} commands, which run KVM machines in this process and measure them: {@link
 * io.isthmus.vmm.demo.GpuShareCommand} ({@code demo gpu-share}) runs several VMs whose vGPUs share one engine and
 * reports each one's share of the GPU time against its weight; {@link io.isthmus.vmm.demo.VgpuPathCommand}
 * ({@code demo vgpu-path}) compares one VM's vGPU throughput with the same kernels made straight on the engine and
 * breaks a request's time down into the path's stages. {@link io.isthmus.vmm.demo.DemoMain} is the entry point.
 */
package io.isthmus.vmm.demo;
