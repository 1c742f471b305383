#!/usr/bin/env bash
# avsl vs PyTorch on this machine, in one run: the same benchmarks (avsl bench --json and
# tools/torch_bench.py), the same thread count, the loader on the same files; prints each
# key with both figures and the ratio avsl / PyTorch (for times lower is better, for
# rates higher is better).
#
# A shared machine drifts by ±20% over minutes, so the model benchmarks run in ROUNDS
# alternating rounds (avsl, PyTorch, avsl, …) and each side's figure is its median over
# the rounds: both sides see the same slow and fast stretches.
#
#   tools/compare_bench.sh [THREADS] [PYTHON] [ROUNDS]   # e.g. tools/compare_bench.sh 2 ~/.venvs/avsl-ref/bin/python 3
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2}"
python="${2:-python3}"
rounds="${3:-3}"
data="$(mktemp -d)"
runs="$(mktemp -d)"
trap 'rm -rf "$data" "$runs"' EXIT
cargo build --release -q
./target/release/avsl bench loader --threads "$threads" --data-dir "$data" --json | tail -1 > "$runs/ours_loader.json"
"$python" tools/torch_bench.py --threads "$threads" --data "$data" --loader-only | tail -1 > "$runs/theirs_loader.json"
for round in $(seq "$rounds"); do
    echo "round $round of $rounds" >&2
    ./target/release/avsl bench forward train --threads "$threads" --json | tail -1 > "$runs/ours_$round.json"
    "$python" tools/torch_bench.py --threads "$threads" | tail -1 > "$runs/theirs_$round.json"
done
"$python" - "$runs" "$rounds" <<'PY'
import json, statistics, sys
runs, rounds = sys.argv[1], int(sys.argv[2])
def side(name):
    merged = json.load(open(f"{runs}/{name}_loader.json"))
    per_key = {}
    for r in range(1, rounds + 1):
        for key, value in json.load(open(f"{runs}/{name}_{r}.json")).items():
            per_key.setdefault(key, []).append(value)
    for key, values in per_key.items():
        merged[key] = statistics.median(values) if all(isinstance(v, (int, float)) for v in values) else values[0]
    return merged
ours, theirs = side("ours"), side("theirs")
print(f"{'key':34} {'avsl':>12} {'PyTorch':>12} {'avsl/PyTorch':>13}   (model keys: median of {rounds} alternating rounds)")
for key in sorted(set(ours) & set(theirs)):
    a, b = ours[key], theirs[key]
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and key != "threads":
        ratio = a / b if b else float("nan")
        print(f"{key:34} {a:12.1f} {b:12.1f} {ratio:13.2f}")
PY
