#!/usr/bin/env bash
# The Python package (crates/avsl-py) as a user gets it: a fresh venv with numpy, the
# README's `pip install` line (maturin builds the extension against this workspace's
# target/, so after the test command it reuses the compiled crates), then pytest, which
# compares every function with what the `avsl` binary writes (AVSL_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
python3 -m venv "$scratch/venv"
"$scratch/venv/bin/pip" install -q --disable-pip-version-check numpy pytest
start=$(date +%s)
"$scratch/venv/bin/pip" install -q --disable-pip-version-check ./crates/avsl-py
echo "avsl wheel built and installed in $(($(date +%s) - start)) s"
AVSL_BIN="$PWD/target/release/avsl" "$scratch/venv/bin/python" -m pytest -q -p no:cacheprovider crates/avsl-py/tests
