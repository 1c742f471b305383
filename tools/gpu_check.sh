#!/usr/bin/env bash
# The GPU check of issue #9, in two halves.
#
# Here (a machine with the Rust toolchain and the crates; no GPU needed):
#   tools/gpu_check.sh build
# builds the `cuda` feature (CUDARC_CUDA_VERSION pins the CUDA API the GPU machine has;
# DOCS_RS=1 skips cubecl-llvm's LLVM download, see docs/gpu.md)
# into target-cuda/ and puts stripped, xz-compressed copies of `avsl` and the fixture
# test binaries into .gpu/ (git-ignored), small enough to travel with the working tree
# (the device tool carries at most 64 MiB; stripped they are 70-77 MB each, gzipped 18-22
# MB, xz -9e about 11 MB; carry `.gpu`).
#
# There (the GPU machine, from the repository root, with .gpu/ carried):
#   tools/gpu_check.sh run [OUT]
# runs the fixture tests of the device kernels on the GPU, through CUDA and through wgpu
# on its Vulkan driver (a SLAVC and an SSL-align training step, SSL-align and EZ-VSL
# inference, two data-parallel replicas on the one GPU, each against PyTorch's values),
# then `avsl bench` on both and the PyTorch twin at the issue's sizes (train batch 128; eval batch
# 1, 8, 128; PyTorch in fp32, bf16 autocast and bf16 + channels-last), writing logs and
# JSON into OUT (default $OUT, else gpu-out/).
set -uo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
build)
    set -e
    export CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13000}" DOCS_RS=1 CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target-cuda}"
    cargo build --release -p avsl --features cuda
    tests="$( (cargo test --release -p avsl-model --features cuda --no-run --test model_fixture 2>&1
        cargo test --release -p avsl-train --features cuda --no-run --test train_fixture --test data_parallel 2>&1) |
        sed -n 's/.*(\(.*\/deps\/[a-z_]*-[0-9a-f]*\)).*/\1/p')"
    mkdir -p .gpu
    grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
    rm -f .gpu/*
    pack() { strip -o ".gpu/$2" "$1" && xz -9e -T0 -f ".gpu/$2"; }
    pack "$CARGO_TARGET_DIR/release/avsl" avsl
    for t in $tests; do pack "$t" "$(basename "$t" | sed 's/-[0-9a-f]*$//')"; done
    ls -la .gpu
    ;;
run)
    out="${2:-${OUT:-gpu-out}}"
    mkdir -p "$out"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
    # Unpacked outside the checkout (so .gpu/ stays small enough to carry again), with
    # python3's lzma: no need for the xz program there.
    bin="$(mktemp -d)"
    for f in .gpu/*.xz; do
        name="$(basename "${f%.xz}")"
        python3 -c 'import lzma, sys; open(sys.argv[2], "wb").write(lzma.open(sys.argv[1]).read())' "$f" "$bin/$name"
        chmod +x "$bin/$name"
    done
    # The test binaries find their fixtures through the path they were built at.
    built_at="$(grep -ao "/[[:alnum:]_./-]*/crates/avsl-train" "$bin/train_fixture" | head -1)"
    root="${built_at%/crates/avsl-train}"
    if [ -n "$root" ] && [ ! -e "$built_at" ]; then
        mkdir -p "$(dirname "$root")" && ln -sfn "$PWD" "$root"
    fi
    # NVRTC (cubecl compiles its kernels with it at run time) from the CUDA toolkit.
    for lib in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
        [ -d "$lib" ] && export LD_LIBRARY_PATH="$lib:${LD_LIBRARY_PATH:-}"
    done
    export RUST_BACKTRACE=1
    # The same fixture tests on CUDA and on the GPU's Vulkan driver through wgpu (the
    # default build has both runtimes).
    for device in cuda wgpu; do
        for t in train_fixture model_fixture data_parallel; do
            filter=device_kernels
            [ "$t" = data_parallel ] && filter=two_replicas
            AVSL_TEST_DEVICE=$device timeout 240 "$bin/$t" "$filter" --test-threads 1 --nocapture 2>&1 |
                tee "$out/test_${t}_$device.log" | grep -E "^test |panicked|result"
        done
    done
    threads="$(nproc)"
    for device in cuda wgpu; do
        timeout 300 "$bin/avsl" bench forward train --device $device --threads "$threads" --train-batch 128 \
            --eval-batch 1,8,128 --json 2>&1 | tee "$out/bench_avsl_$device.log" | tail -1 >"$out/avsl_$device.json"
    done
    for variant in "fp32" "bf16" "bf16 --channels-last"; do
        name="$(echo "$variant" | tr -d ' -')"
        # shellcheck disable=SC2086
        timeout 200 python3 tools/torch_bench.py --device cuda --threads "$threads" --train-batch 128 \
            --eval-batch 1,8,128 --precision $variant 2>&1 | tail -1 >"$out/torch_$name.json"
    done
    cat "$out"/*.json
    ;;
*)
    echo "usage: tools/gpu_check.sh build | run [OUT]" >&2
    exit 2
    ;;
esac
