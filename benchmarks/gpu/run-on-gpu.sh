#!/usr/bin/env bash
# The issue-15 measurements on a GPU machine, in one go. Two steps:
#
#   here (a build machine, JDK 25 and Maven):   benchmarks/gpu/run-on-gpu.sh prepare
#       builds sched and its jars, jlinks a JDK 25 with the modules they need, and packs both into
#       benchmarks/gpu/bundle.tar.xz (~40 MiB; git-ignored: carry it to the GPU machine with the work tree)
#   there (NVIDIA driver, no Java needed):       benchmarks/gpu/run-on-gpu.sh run
#       unpacks the bundle and runs, each on the CUDA engine, writing JSON, CSV and PNG under
#       benchmarks/results/gpu-<date>/ (bring that folder back and commit it):
#         0. nvidia-smi, the driver and the GPU, for the record
#         1. shares: 4 tenants, weights 1:2:3:4, mixed kernels, 10 s (achieved shares from CUDA events)
#         2. throughput: one tenant through the vGPU path vs the same launches straight on the engine,
#            5 alternating rounds; and the 4 tenants' total launches against one tenant alone
#         3. a long-kernel tenant (spin 20 ms) against three short ones (spin 200 us), equal weights:
#            its share with the scheduler (slices of 2 ms, overruns repaid as debt)
#         4. isolation: per-vGPU contexts, the switch cost: 4 tenants of spin:20us at slices of 1 ms vs 1 tenant
# What step 3 lacks: the same tenants "without our scheduler" (each submitting straight to the GPU, its own
# context, the GPU's own time-slicing) needs a bypass mode in `isthmus sched run` that is not written yet.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bundle=$here/bundle

prepare() {
    source "$root/bin/lib/common.sh"
    find_jdk
    (cd "$root" && maven -B -q -DskipTests -pl sched -am package)
    rm -rf "$bundle" && mkdir -p "$bundle/lib"
    cp "$root"/sched/target/isthmus-sched-*.jar "$root"/sched/target/lib/*.jar "$bundle/lib/"
    rm -f "$bundle"/lib/*-sources.jar "$bundle"/lib/*-tests.jar
    "$JAVA_HOME/bin/jlink" --add-modules java.base,java.desktop,jdk.jfr,java.logging,java.management,jdk.management,java.sql,jdk.unsupported \
        --strip-debug --no-man-pages --no-header-files --compress=zip-9 --output "$bundle/jdk"
    tar cJf "$here/bundle.tar.xz" -C "$here" bundle
    echo "run-on-gpu: $(du -h "$here/bundle.tar.xz" | cut -f1) in benchmarks/gpu/bundle.tar.xz; carry it and run '$0 run' there"
}

run() {
    [ -d "$bundle" ] || tar xJf "$here/bundle.tar.xz" -C "$here"
    out=$root/benchmarks/results/gpu-$(date -u +%F)
    mkdir -p "$out"
    sched() {
        "$bundle/jdk/bin/java" --enable-native-access=io.isthmus.bindings -p "$bundle/lib" \
            -m io.isthmus.sched/io.isthmus.sched.cli.SchedMain "$@"
    }
    { date -u; uptime; nvidia-smi || true; } > "$out/machine.txt" 2>&1
    step() { local name=$1; shift; echo "== $name: sched $*" | tee -a "$out/log.txt"
        sched "$@" --live=false --csv "$out/$name.csv" --png "$out/$name.png" --json "$out/$name.json" 2>&1 \
            | tee "$out/$name.txt" | tee -a "$out/log.txt"; }
    step shares-1234 run --engine cuda --weights 1,2,3,4 --duration 10s --kernel mix
    step alone run --engine cuda --weights 1 --duration 10s --kernel mix --compare-direct 5
    step long-kernel run --engine cuda --weights 1,1,1,1 --duration 10s --slice 2ms \
        --kernel spin:200us --kernel-per-tenant "0=spin:20ms"
    step switch-4 run --engine cuda --weights 1,1,1,1 --duration 5s --slice 1ms --kernel spin:20us
    step switch-1 run --engine cuda --weights 1 --duration 5s --slice 1ms --kernel spin:20us
    echo "run-on-gpu: results in $out"
}

case "${1:-}" in
    prepare) prepare ;;
    run) run ;;
    *) echo "usage: $0 prepare|run   (see the comment at the top)" >&2; exit 2 ;;
esac
