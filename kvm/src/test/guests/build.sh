#!/usr/bin/env bash
# Assembles every test guest (*.S here) and links it flat at 0x1000, where TestVm loads guest code:
#   kvm/src/test/guests/build.sh OUTDIR   ->  OUTDIR/<name>-1000.bin
# Maven runs it before the tests (kvm/pom.xml), so the binaries travel with the test classes: to the lab guest,
# which has no gcc, as well as to the host's tests.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for src in "$here"/*.S; do
    name=$(basename "$src" .S)
    gcc -c -o "$tmp/$name.o" "$src"
    ld -Ttext=0x1000 --oformat binary -e 0 -o "$out/$name-1000.bin" "$tmp/$name.o"
done
