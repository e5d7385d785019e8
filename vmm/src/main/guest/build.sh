#!/usr/bin/env bash
# Builds the VMM's built-in guest from default-guest.c into the resource the jar ships:
#   vmm/src/main/guest/build.sh [OUTPUT]   (default: ../resources/io/isthmus/vmm/guest/default-guest.elf)
# Deterministic: no build id, no comments, no file paths, so a test can check the committed bytes match.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../resources/io/isthmus/vmm/guest/default-guest.elf}
cd "$here"
gcc -m32 -march=i686 -ffreestanding -nostdlib -fno-pic -no-pie -static -O2 -fno-stack-protector \
    -fno-asynchronous-unwind-tables -fno-ident -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
    -Wl,-T,default-guest.ld -Wl,-s -o "$out" default-guest.c
