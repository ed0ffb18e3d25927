#!/usr/bin/env bash
# Everything that needs a GPU, in one go (a lent GPU machine's time is short):
#
#   bash benchmarks/gpu.sh OUT_DIR        (PYTHON=... to choose the interpreter)
#
#   verify   benchmarks/kernels.py --verify: every kernel against float64 on odd shapes
#   kernels  benchmarks/kernels.py --sweep: the 8B-shape table, tuning knobs included
#   train    the 125M model on the sample corpus (configs/train-125m-sample.toml), eagerly
#            and compiled: tokens/s and MFU (needs out/sample from `make corpus`)
#
# The results go into benchmarks/RESULTS.md by hand, below its GPU marker line, with the card,
# the date and the commit.
#
# Each step has its own time limit and writes OUT_DIR/STEP.md (results) and OUT_DIR/STEP.log;
# a step that fails or runs out of time does not stop the others. The exit status is the
# number of steps that failed.
set -u
out=${1:?usage: bash benchmarks/gpu.sh OUT_DIR}
mkdir -p "$out"
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
failed=0

step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2 began rc
    shift 2
    began=$(date +%s)
    timeout --kill-after=10 "$limit" "$@" >>"$out/$name.md" 2>>"$out/$name.log"
    rc=$?
    echo "== $name: exit $rc after $(($(date +%s) - began)) s (limit $limit s)"
    [ "$rc" -eq 0 ] || failed=$((failed + 1))
}

{
    date -u +"%Y-%m-%d %H:%M UTC"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
    "$py" -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__)'
} >"$out/machine.txt" 2>&1
cat "$out/machine.txt"

step kernels 300 "$py" benchmarks/kernels.py --sweep --json "$out/kernels.json"
step verify 120 "$py" benchmarks/kernels.py --verify
# The two training runs write to a scratch folder (a rerun starts clean) and read the sample.
runs=$(mktemp -d)
for mode in eager compiled; do
    config=configs/.train-125m-sample-$mode.toml
    compile=$([ "$mode" = compiled ] && echo true || echo false)
    sed "s/^compile = .*/compile = $compile/; s|^out = .*|out = \"$runs/$mode\"|" \
        configs/train-125m-sample.toml >"$config"
    step train "$([ "$mode" = compiled ] && echo 90 || echo 70)" \
        "$py" -m heed.training.cli train "$config"
    rm -f "$config"
done
rm -rf "$runs"
exit "$failed"
