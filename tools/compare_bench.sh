#!/usr/bin/env bash
# avsl vs PyTorch on this machine, in one run: the same benchmarks (avsl bench --json and
# tools/torch_bench.py), the same thread count, the loader on the same files; prints each
# key with both figures and the ratio avsl / PyTorch (for times lower is better, for
# rates higher is better).
#
#   tools/compare_bench.sh [THREADS] [PYTHON]     # e.g. tools/compare_bench.sh 2 ~/.venvs/avsl-ref/bin/python
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2}"
python="${2:-python3}"
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
cargo build --release -q
ours="$(./target/release/avsl bench loader forward train --threads "$threads" --data-dir "$data" --json | tail -1)"
theirs="$("$python" tools/torch_bench.py --threads "$threads" --data "$data" | tail -1)"
"$python" - "$ours" "$theirs" <<'PY'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{'key':34} {'avsl':>12} {'PyTorch':>12} {'avsl/PyTorch':>13}")
for key in sorted(set(ours) & set(theirs)):
    a, b = ours[key], theirs[key]
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and key != "threads":
        ratio = a / b if b else float("nan")
        print(f"{key:34} {a:12.1f} {b:12.1f} {ratio:13.2f}")
PY
