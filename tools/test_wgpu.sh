#!/usr/bin/env bash
# The device engine through burn's wgpu backend on Mesa's software Vulkan driver (lavapipe),
# as CI runs it after the README's test command (Debian: mesa-vulkan-drivers; .ci/run
# installs it):
#   1. the fixture tests of the device kernels against PyTorch — a SLAVC training step (with
#      and without the stem's max-pool), an SSL-align step, SSL-align and EZ-VSL inference —
#      a resumed run bit for bit, and the two engines step by step on a real benchmark, all
#      with the tolerances they have on the CPU backend;
#   2. issue #24's comparison of two whole runs, `--device cpu` against `--device wgpu`:
#      the first step (same initial weights) must agree within 5e-5; the later steps are
#      printed, not asserted — two float32 runs of this recipe part after a few steps
#      whatever their accuracy (docs/gpu.md, "Two engines, one run").
# Needs a release build of the workspace (the test command builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
icd="$(ls /usr/share/vulkan/icd.d/lvp_icd.*.json 2>/dev/null | head -1 || true)"
if [ -z "$icd" ]; then
    echo "tools/test_wgpu.sh: Mesa's lavapipe is not installed (Debian: apt-get install mesa-vulkan-drivers)" >&2
    exit 1
fi
export VK_ICD_FILENAMES="$icd" AVSL_TEST_DEVICE=wgpu
# Mesa's window-system layer asks for this folder even when nothing is displayed.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$scratch}"

cargo test --workspace --release --test train_fixture --test model_fixture --test resume --test engines

avsl=target/release/avsl
"$avsl" synth --seed 3 --train 64 --test 16 --negatives 8 --out "$scratch/data" >/dev/null
for device in cpu wgpu; do
    "$avsl" train --data "$scratch/data" --model slavc --epochs 1 --batch-size 8 --width 8 --dim 16 \
        --lr 0.001 --seed 0 --threads 2 --device "$device" --output "$scratch/$device" 2>&1 | grep -v '^warning: no --image-weights'
done
losses() { grep -o '"loss":[-0-9.e]*' "$scratch/$1/train_log.jsonl" | cut -d: -f2; }
echo "step  loss (cpu)          loss (wgpu)         relative difference"
paste <(losses cpu) <(losses wgpu) | awk '
    { d = ($1 - $2) / $1; if (d < 0) d = -d; printf "%4d  %-18s  %-18s  %.1e\n", NR, $1, $2, d }
    NR == 1 && d > 5e-5 { bad = 1 }
    END { if (NR == 0 || bad) { print "the first step differs by more than 5e-5 (or no steps were logged)"; exit 1 } }'
