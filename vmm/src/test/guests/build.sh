#!/usr/bin/env bash
# Builds the VMM tests' guest corpus from the sources here:
#   vmm/src/test/guests/build.sh OUTDIR
# Maven runs it before the tests (vmm/pom.xml) into target/test-classes/test-guests, so the guests travel with the
# test classes: to the lab guest, which has no gcc, as well as to the host's tests (TestGuests.guest(name)).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$here"

# 32-bit freestanding Multiboot/PVH guests: gcc -m32, linked by the given script.
cflags=(-m32 -march=i686 -ffreestanding -nostdlib -fno-pic -no-pie -static -O2 -fno-stack-protector
        -fno-asynchronous-unwind-tables -Wl,--build-id=none -Wl,--no-warn-rwx-segments)
elf() { # SOURCE LINKER-SCRIPT OUTPUT [GCC FLAGS...]
    local src=$1 ld=$2 name=$3
    shift 3
    gcc "${cflags[@]}" -Wl,-T,"$here/$ld" "$@" -o "$out/$name" "$here/$src"
}
# bzImage-shaped real-mode guests: assembled and linked flat (file offsets are addresses).
bz() { # NAME (NAME.S -> NAME.bin)
    gcc -c -o "$out/$1.o" "$here/$1.S"
    gcc -nostdlib -Wl,-Ttext=0 -Wl,--oformat=binary -Wl,--build-id=none -o "$out/$1.bin" "$out/$1.o"
    rm -f "$out/$1.o"
}

elf multiboot.c multiboot.ld multiboot.elf
elf multiboot.c multiboot.ld multiboot-aout.elf -DAOUT
objcopy -O binary "$out/multiboot-aout.elf" "$out/multiboot-aout.bin"
elf probe.c multiboot.ld probe.elf
elf idle.c multiboot.ld idle.elf
elf resetloop.c multiboot.ld resetloop.elf
elf hostile.c multiboot.ld hostile.elf
elf flood.c multiboot.ld flood.elf
elf echo.c multiboot.ld echo.elf
elf firmware.c multiboot.ld firmware.elf
elf pci.c multiboot.ld pci.elf
elf firmware.c pvh.ld firmware-pvh.elf -DPVH
elf pvh.c pvh.ld pvh.elf
# The same PVH guest in a 64-bit ELF container (32-bit code, EM_X86_64 header), as a vmlinux is.
objcopy -O elf64-x86-64 "$out/pvh.elf" "$out/pvh64.elf"
# 64-bit freestanding PVH guests (an ELF64 whose 32-bit entry stub enables long mode): gcc -m64.
cflags64=(-m64 -ffreestanding -nostdlib -fno-pic -no-pie -static -O2 -fno-stack-protector -mno-red-zone
          -fno-asynchronous-unwind-tables -fno-builtin -Wl,--build-id=none -Wl,--no-warn-rwx-segments)
gcc "${cflags64[@]}" -Wl,-T,"$here/pvh.ld" -o "$out/vgpu.elf" "$here/vgpu.c"
gcc "${cflags64[@]}" -Wl,-T,"$here/pvh.ld" -o "$out/edu.elf" "$here/edu.c"
bz bzimage
bz irq16
bz reset16
# The firmware guest as a bzImage: bzfirmware.S's setup sectors, then firmware.c linked at 1 MiB as a flat binary.
bz bzfirmware
elf firmware.c multiboot.ld firmware-bzk.elf -DBZIMAGE
objcopy -O binary "$out/firmware-bzk.elf" "$out/firmware-bzk.bin"
cat "$out/bzfirmware.bin" "$out/firmware-bzk.bin" >"$out/firmware-bz.bin"
rm -f "$out/bzfirmware.bin" "$out/firmware-bzk.elf" "$out/firmware-bzk.bin"
