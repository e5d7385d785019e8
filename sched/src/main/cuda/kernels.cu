// The kernel set (io.isthmus.sched.engine.Kernel) for the CUDA engine. Compiled to PTX by build-ptx.sh, shipped as
// a resource, JIT-compiled by the driver (cuModuleLoadData). Each kernel follows the spec to the bit: IEEE binary32,
// one correctly rounded fused multiply-add (__fmaf_rn) per step, matmul's sum over k in order from 0.0f; so the
// host engine's results (Math.fma) are what these compute.
//
// Arguments: every kernel takes 64-bit words as the launch carries them (unsigned long long), buffers as device
// pointers; CudaKernels packs them. extern "C" keeps the names unmangled for cuModuleGetFunction.

extern "C" __global__ void isthmus_spin(unsigned long long micros)
{
    // %globaltimer counts nanoseconds; one thread spins, as long as the launch asked.
    unsigned long long start, now;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    do {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
    } while (now - start < micros * 1000ull);
}

extern "C" __global__ void isthmus_saxpy(unsigned long long n, float a, const float *x, float *y)
{
    for (unsigned long long i = blockIdx.x * (unsigned long long) blockDim.x + threadIdx.x; i < n;
            i += (unsigned long long) gridDim.x * blockDim.x) {
        y[i] = __fmaf_rn(a, x[i], y[i]);
    }
}

extern "C" __global__ void isthmus_copy(unsigned long long bytes, const unsigned char *src, unsigned char *dst)
{
    // 16 bytes a thread where both ends are 16-byte aligned (allocations are 256-aligned), bytes for the tail.
    unsigned long long stride = (unsigned long long) gridDim.x * blockDim.x;
    unsigned long long first = blockIdx.x * (unsigned long long) blockDim.x + threadIdx.x;
    unsigned long long vectors = bytes / 16;
    const uint4 *s = (const uint4 *) src;
    uint4 *d = (uint4 *) dst;
    for (unsigned long long i = first; i < vectors; i += stride) {
        d[i] = s[i];
    }
    for (unsigned long long i = vectors * 16 + first; i < bytes; i += stride) {
        dst[i] = src[i];
    }
}

extern "C" __global__ void isthmus_matmul(unsigned long long n, const float *a, const float *b, float *c)
{
    unsigned long long row = blockIdx.y * (unsigned long long) blockDim.y + threadIdx.y;
    unsigned long long col = blockIdx.x * (unsigned long long) blockDim.x + threadIdx.x;
    if (row < n && col < n) {
        float acc = 0.0f;
        for (unsigned long long k = 0; k < n; k++) {
            acc = __fmaf_rn(a[row * n + k], b[k * n + col], acc);
        }
        c[row * n + col] = acc;
    }
}
