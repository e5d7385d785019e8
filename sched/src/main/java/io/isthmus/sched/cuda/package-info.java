/** The CUDA engine: a context per vGPU, the kernel set as shipped PTX, guest RAM registered for DMA, event timing. */
package io.isthmus.sched.cuda;
