#!/usr/bin/env bash
# Everything that needs a GPU, in one go (a lent GPU machine's time is short):
#
#   bash benchmarks/gpu.sh OUT_DIR [STEP ...]     (PYTHON=... chooses the interpreter)
#
#   kernels     benchmarks/kernels.py --verify: every Triton kernel (custom op) on CUDA against
#               float64, odd shapes, poisoned buffers                                   (~20 s)
#   attention   benchmarks/trainer.py verify: flex and varlen against the dense mask, outputs
#               and gradients, fp32 and bf16                                            (~40 s)
#   throughput  benchmarks/trainer.py throughput: the 1B, then the 125M, at sequence 4096 in
#               bf16: the eager dense-mask baseline, flex eager and compiled, varlen compiled
#               (1B), dense compiled (125M: what compile does without flex); tokens/s, MFU,
#               memory, graph breaks; a profile of the 125M variants' kernels        (~6 min)
#   curves      benchmarks/trainer.py curves: the 125M on the sample corpus, 120 steps with
#               and without Goldfish: loss curves (PNG), memorisation                 (~2 min)
#   sweep       benchmarks/kernels.py --sweep: the kernels' timing table (not by default)
#
# No STEP: kernels attention throughput curves, about 9 minutes in all. Under a 10-minute
# limit per command, run "kernels attention throughput" and then "curves" as two commands.
# Needs out/sample/tokens (`heed corpus`; carry out/sample to a GPU machine; TOKENS=DIR for
# another tokens/ folder of at least two part files, the last held out). Python is pointed
# at this checkout (heed need not be installed, and an installed copy is not what is measured).
# COMMIT=... names the commit where the copy has no .git (a lent GPU machine's).
# CPU_CHECK=1 runs every step's --cpu-check instead (a tiny model on the CPU: the script's own
# test, in tests/test_attention.py).
#
# OUT_DIR gets results.md (the machine, the versions and every step's tables, to paste into
# benchmarks/RESULTS.md below its GPU marker with the date and commit), log.txt (every step's
# stderr), throughput.json, profiles.txt, curves.json and curves.png. Each step has its own time
# limit; one that fails or runs out of time does not stop the others. The exit status is the
# number of steps that failed.
set -u
out=${1:?usage: bash benchmarks/gpu.sh OUT_DIR [kernels attention throughput curves sweep]}
shift
steps=${*:-kernels attention throughput curves}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
failed=0

check=${CPU_CHECK:+--cpu-check}
tokens=${TOKENS:-out/sample/tokens}

# The installed layout (pyproject's package-dir) by symbolic links: heed/ with the repository's
# folders as its sub-packages, ahead of any installed heed on the path.
site=$(mktemp -d)
mkdir "$site/heed"
for f in heed/*; do ln -s "$PWD/$f" "$site/heed/"; done
for pkg in curation filters kernels training configs sample; do
    ln -s "$PWD/$pkg" "$site/heed/$pkg"
done
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"

step() {  # step NAME SECONDS COMMAND...: stdout to results.md, stderr to log.txt
    local name=$1 limit=$2 began rc
    shift 2
    began=$(date +%s)
    echo "== $name (limit $limit s)" >>"$out/log.txt"
    timeout --kill-after=10 "$limit" "$@" >>"$out/results.md" 2>>"$out/log.txt"
    rc=$?
    echo "" >>"$out/results.md"
    echo "== $name: exit $rc after $(($(date +%s) - began)) s (limit $limit s)" | tee -a "$out/log.txt"
    [ "$rc" -eq 0 ] || failed=$((failed + 1))
}

{
    echo "# benchmarks/gpu.sh $steps"
    echo
    echo "$(date -u +"%Y-%m-%d %H:%M UTC"), commit ${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo '?')}"
    echo
    echo '```'
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv ||
        echo "(no nvidia-smi)"
    "$py" -c 'import platform, torch, triton; print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda, "triton", triton.__version__)'
    echo "pinned (constraints.txt): $(grep -E '^(torch|triton)==' constraints.txt | tr '\n' ' ')"
    echo '```'
    echo
} >>"$out/results.md" 2>&1
cat "$out/results.md"

for name in $steps; do
    case $name in
        kernels) step kernels 60 "$py" benchmarks/kernels.py --verify $check ;;
        sweep) step sweep 300 "$py" benchmarks/kernels.py --sweep $check ;;
        attention) step attention 150 "$py" benchmarks/trainer.py verify $check ;;
        throughput)
            TORCH_LOGS=graph_breaks,recompiles step throughput 420 \
                "$py" benchmarks/trainer.py throughput --sizes 1b,125m --profile 125m \
                --profiles "$out/profiles.txt" --json "$out/throughput.json" --timeout 150 \
                --tokens "$tokens" $check
            ;;
        curves)
            step curves 300 "$py" benchmarks/trainer.py curves --steps 120 \
                --json "$out/curves.json" --png "$out/curves.png" --timeout 130 \
                --tokens "$tokens" $check
            ;;
        *) echo "unknown step $name" >&2; failed=$((failed + 1)) ;;
    esac
done
exit "$failed"
