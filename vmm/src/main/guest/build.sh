#!/usr/bin/env bash
# Builds the guests the VMM's jar ships into its resources:
#   vmm/src/main/guest/build.sh [DIR]   (default: ../resources/io/isthmus/vmm/guest)
#   default-guest.elf  the built-in guest (default-guest.c), run when no -kernel is given
#   vgpu.elf           the isthmus-vgpu guest driver (../../test/guests/vgpu.c, also in the test corpus), run by
#                      `isthmus demo gpu-share`
# Deterministic: no build id, no comments, no file paths, so a test can check the committed bytes match.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../resources/io/isthmus/vmm/guest}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$here"
gcc -m32 -march=i686 -ffreestanding -nostdlib -fno-pic -no-pie -static -O2 -fno-stack-protector \
    -fno-asynchronous-unwind-tables -fno-ident -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
    -Wl,-T,default-guest.ld -Wl,-s -o "$out/default-guest.elf" default-guest.c
guests=$here/../../test/guests
gcc -m64 -ffreestanding -nostdlib -fno-pic -no-pie -static -O2 -fno-stack-protector -mno-red-zone \
    -fno-asynchronous-unwind-tables -fno-builtin -fno-ident -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
    -Wl,-T,"$guests/pvh.ld" -Wl,-s -o "$out/vgpu.elf" "$guests/vgpu.c"
