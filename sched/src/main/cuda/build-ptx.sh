#!/usr/bin/env bash
# Compiles kernels.cu to the PTX the CUDA engine ships (src/main/resources/io/isthmus/sched/cuda/kernels.ptx).
# The build never runs this: the .ptx is committed, so building needs no nvcc; run it after changing kernels.cu
# (needs nvcc, CUDA 12 or 13; this copy was made with CUDA 13.0, V13.0.88) and commit both.
#
# PTX for compute_80 (A100 and newer, the H200 included): the driver JIT-compiles it for the GPU it finds.
# nvcc 13 stamps its own PTX ISA version (9.0), which a driver older than CUDA 13's (R580) refuses as
# CUDA_ERROR_UNSUPPORTED_PTX_VERSION although these kernels use nothing newer than ISA 7.0 (sm_80's minimum); the
# stamp is therefore lowered to 7.0, which R450 and newer drivers accept. ptxas checks the result below.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$here/../resources/io/isthmus/sched/cuda/kernels.ptx
nvcc=${NVCC:-nvcc}
"$nvcc" -ptx -arch=compute_80 -O3 -lineinfo -o "$out.tmp" "$here/kernels.cu"
sed -i -e 's/^\.version .*/.version 7.0/' -e '/^\/\/ Cuda compilation tools/d' -e '/^\/\/ Based on/d' \
    -e '/^\/\/ Compiler Build ID/d' -e '/^\.file/d' -e 's/\.loc\t[0-9].*$//' "$out.tmp"
# ptxas (part of nvcc's toolkit) must accept what the driver will get.
ptxas=$(dirname "$(command -v "$nvcc")")/ptxas
[ -x "$ptxas" ] || ptxas=ptxas
"$ptxas" -arch=sm_90 -o /dev/null "$out.tmp"
mv "$out.tmp" "$out"
echo "build-ptx: $out ($(wc -c <"$out") bytes)"
