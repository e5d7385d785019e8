/**
 * The {@code isthmus demo} commands that run machines in this process and measure them: {@link
 * io.isthmus.vmm.demo.VgpuPathCommand} ({@code demo vgpu-path}) compares one VM's vGPU throughput with the same
 * kernels made straight on the engine and breaks a request's time down into the path's stages.
 */
package io.isthmus.vmm.demo;
