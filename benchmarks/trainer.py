"""The trainer on one GPU: the document-masking backends against the dense mask, the 125M and
1B models' throughput and MFU at sequence 4096 in bf16 (the eager dense-mask baseline beside the
new attention, eager and compiled), and the 125M's loss curves with and without Goldfish on the
sample corpus. benchmarks/gpu.sh runs all of it.

    python benchmarks/trainer.py verify                       # attention backends vs dense
    python benchmarks/trainer.py throughput [--sizes 1b,125m] [--variants dense-eager,...]
    python benchmarks/trainer.py curves [--steps 150]         # loss curves, memorisation
    python benchmarks/trainer.py plot CURVES.json CURVES.png  # the curves as a figure
    python benchmarks/trainer.py COMMAND --cpu-check          # a tiny model on the CPU

A variant is ATTENTION-MODE: dense-eager is the baseline (the dense mask through SDPA, as the
trainer did before), flex-eager runs the model eagerly with only FlexAttention's kernel
compiled, flex-compiled compiles every block (run.compile), likewise varlen-*.

Throughput is train() itself (configs as benchmarks/gpu.sh gives them, no checkpoint, no
evaluation) on the sample corpus's documents (out/sample/tokens, from `heed corpus`): each
variant in a fresh process, the steps timed after a warm-up window that holds the compilation.
MFU is training/flops.py's (6·N·tokens + 12·L·H·D over the (query, key) pairs the document
mask allows) over the card's dense bf16 peak; two other counts are shown beside it for the
anchors' sake: 6·N alone, and the full causal triangle per row (one document per row).

--cpu-check runs each command on a tiny model, fp32, on the CPU (compiled variants with the
aot_eager backend, FlexAttention's backward through its reference): it proves the script runs
end to end; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parent.parent
SAMPLE_TOKENS = REPO / "out" / "sample" / "tokens"
PINNED = {"torch": "2.13.0", "triton": "3.7.1"}  # constraints.txt
VARIANTS = ("dense-eager", "flex-eager", "flex-compiled", "varlen-eager", "varlen-compiled")
DEFAULT_VARIANTS = {
    # The baseline, the candidates, eager beside compiled; varlen beside flex at the 1B (the
    # size the choice is for); at the 125M, what compile does with the dense mask still there.
    "1b": "dense-eager,flex-eager,flex-compiled,varlen-compiled",
    "125m": "dense-eager,flex-eager,flex-compiled,dense-compiled",
}
# Rows per micro-batch at sequence 4096, micro-batches per step (the optimizer's share of a
# step stays small, as in real training where a step holds many), and steps per timed window
# (a second or more of work).
SHAPES = {"125m": (16, 2, 8), "1b": (4, 4, 5), "8b": (1, 4, 3), "tiny": (2, 2, 2)}


def versions() -> dict[str, str]:
    import triton

    out = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "cuda": str(torch.version.cuda),
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
    }
    if torch.cuda.is_available():
        out["cudnn"] = str(torch.backends.cudnn.version())
    return out


def versions_line(v: dict[str, str]) -> str:
    pinned = ", ".join(f"{k} {p}" for k, p in PINNED.items())
    same = all(v[k].split("+")[0] == p for k, p in PINNED.items())
    note = "the pinned versions" if same else f"not the pinned {pinned}: the machine's own"
    return (
        f"{v['device']}; Python {v['python']}, torch {v['torch']}, triton {v['triton']}, "
        f"CUDA {v['cuda']}, cuDNN {v.get('cudnn', '-')} ({note})"
    )


def lift_flex_cpu_backward() -> None:
    """--cpu-check only: let FlexAttention's reference run its backward on the CPU (the public
    function refuses because its compiled CPU kernel has none)."""
    import torch.nn.attention.flex_attention as flex_module

    flex_module._validate_device = lambda *args: None


def cpu_compile_with_aot_eager() -> None:
    """--cpu-check only: block.compile() traces with aot_eager (dynamo and AOTAutograd as
    inductor would, without minutes of C++ generation)."""
    original = torch.nn.Module.compile

    def compile_(self, *args, **kwargs):
        kwargs.setdefault("backend", "aot_eager")
        return original(self, *args, **kwargs)

    torch.nn.Module.compile = compile_


# --- verify: the attention backends against the dense mask ---------------------------------


def layouts(batch: int, seq: int, gen: torch.Generator) -> torch.Tensor:
    """Segment ids: rows of many documents (sample-like lengths: 100 to 900 tokens at 4096),
    a row with 1-token documents and a long one, a row that is one document, rows ending in
    padding."""
    shortest, longest = max(seq // 40, 1), max(seq * 2 // 9, 2)
    rows = []
    for b in range(batch):
        kind = b % 4
        if kind == 0:
            lengths = []
            while sum(lengths) < seq:
                lengths.append(int(torch.randint(shortest, longest, (1,), generator=gen)))
            lengths[-1] -= sum(lengths) - seq
        elif kind == 1:
            lengths = [1, seq // 2, 1, seq - seq // 2 - 3, 1]
        elif kind == 2:
            lengths = [seq]
        else:
            lengths = [seq // 3, seq // 5, seq - seq // 3 - seq // 5]  # the last: padding
        ids = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths))
        rows.append(ids)
    return torch.stack(rows)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    b = b.double()
    return float((a.double() - b).norm() / b.norm().clamp_min(1e-30))


def cmd_verify(args: argparse.Namespace) -> int:
    from heed.training.attention import document_attention, document_mask

    cpu = args.cpu_check
    device = torch.device("cpu" if cpu else "cuda")
    if cpu:
        lift_flex_cpu_backward()
    v = versions()
    batch, seq, heads, kv_heads, head_dim = (4, 160, 4, 2, 16) if cpu else (4, 4096, 32, 8, 64)
    gen = torch.Generator().manual_seed(0)
    segments = layouts(batch, seq, gen).to(device)
    shapes = [(heads, head_dim), (kv_heads, head_dim), (kv_heads, head_dim), (heads, head_dim)]
    q, k, v_, dy = (torch.randn(batch, seq, h, d, generator=gen).to(device) for h, d in shapes)

    def run(backend: str, dtype: torch.dtype) -> list[torch.Tensor]:
        leaves = [t.to(dtype).detach().clone().requires_grad_() for t in (q, k, v_)]
        mask = document_mask(segments, backend, block_size=32 if cpu else 128)
        y = document_attention(*leaves, mask)
        (y.float() * dy).sum().backward()
        return [y.detach(), *(t.grad for t in leaves)]

    reference = run("dense", torch.float64 if cpu else torch.float32)
    dtypes = [torch.float32] if cpu else [torch.float32, torch.bfloat16]
    print(f"## Document-masked attention against the dense mask\n\n{versions_line(v)}\n")
    print(
        f"{batch} rows × {seq} tokens (many documents; 1-token ones; one document filling the "
        f"row; padding), {heads} query / {kv_heads} key-value heads of {head_dim}. Largest "
        "‖out − ref‖/‖ref‖ over y, dq, dk, dv against the dense mask in "
        f"{'float64' if cpu else 'float32'} on the same values.\n"
    )
    print("| backend | dtype | rel. error | dense's own error | bound | result |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    ok = True
    for dtype in dtypes:
        dense_error = max(rel(a, b) for a, b in zip(run("dense", dtype), reference, strict=True))
        bound = 2e-2 if dtype == torch.bfloat16 else 1e-3
        for backend in ("flex", "varlen"):
            if backend == "varlen" and dtype == torch.float32 and not cpu:
                continue  # flash attention takes 16-bit inputs only
            try:
                got = run(backend, dtype)
                error = max(rel(a, b) for a, b in zip(got, reference, strict=True))
                passed = error < max(bound, 2 * dense_error)
                cells = [f"{error:.1e}", f"{dense_error:.1e}", f"{bound:.0e}"]
                cells.append("pass" if passed else "FAIL")
            except Exception as exc:
                traceback.print_exc()
                passed, cells = (
                    False,
                    ["-", f"{dense_error:.1e}", f"{bound:.0e}", f"error: {exc!r}"[:90]],
                )
            ok &= passed
            print(
                f"| {backend} | {str(dtype).removeprefix('torch.')} | " + " | ".join(cells) + " |"
            )
    return 0 if ok else 1


# --- throughput -----------------------------------------------------------------------------


def run_config(
    size: str, attention: str, compile_: bool, seq: int, micro: int, accum: int, steps: int,
    log_every: int, out: Path, tokens: Path, cpu: bool, **overrides: Any,
) -> dict[str, Any]:  # fmt: skip
    """A training config for train(): the sample corpus, Goldfish as the 125M configs have it,
    no evaluation unless asked, no checkpoint unless asked."""
    model = {"size": size}
    if ":" in size:  # e.g. 8b:layers=4
        name, _, settings = size.partition(":")
        model = {"size": name}
        for item in settings.split(","):
            key, _, value = item.partition("=")
            model[key] = int(value)
    raw = {
        "data": {"tokens": [str(tokens)], "seq_len": seq, "batch_size": micro * accum,
                 "micro_batch_size": micro, "streams": 1},
        "goldfish": {"k": 50, "h": 50, "mode": "apertus"},
        "model": model,
        "optim": {"name": "ademamix", "lr": 1e-3},
        "schedule": {"steps": steps, "warmup": max(steps // 10, 1), "cooldown": 0.2},
        "run": {"out": str(out), "device": "cpu" if cpu else "cuda", "compile": compile_,
                "attention": attention, "precision": "fp32" if cpu else "bf16",
                "log_every": log_every, "eval_every": 0, "checkpoint_every": -1},
    }  # fmt: skip
    for section, values in overrides.items():
        raw.setdefault(section, {}).update(values)
    return raw


def cmd_run(args: argparse.Namespace) -> int:
    """One variant in this process (throughput's and curves' child): writes --json."""
    from heed.training.config import TrainConfig
    from heed.training.flops import peak_flops
    from heed.training.model import Transformer
    from heed.training.train import train

    if args.cpu_check:
        lift_flex_cpu_backward()
        cpu_compile_with_aot_eager()
    raw = json.loads(args.config)
    config = TrainConfig.from_dict(raw, base=REPO)
    model_config = config.model_config()
    with torch.device("meta"):
        n_params = Transformer(model_config).num_params(embedding=False)
    began = time.monotonic()
    profile = None
    if args.profile:
        activities = [torch.profiler.ProfilerActivity.CPU]
        if torch.cuda.is_available():
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        profile = torch.profiler.profile(activities=activities)

        def on_batch(step: int, micro: int, _batch) -> None:
            if step == config.schedule.steps - 1 and micro == 0:
                profile.__enter__()

    history = train(config, on_batch=on_batch if profile else None)
    # The held-out loss before the first step (in metrics.jsonl, not in the step records).
    metrics = Path(config.path(config.run.out)) / "metrics.jsonl"
    first = json.loads(metrics.read_text().splitlines()[0]) if metrics.is_file() else {}
    if profile is not None:
        profile.__exit__(None, None, None)
        key = "self_cuda_time_total" if torch.cuda.is_available() else "self_cpu_time_total"
        table = profile.key_averages().table(sort_by=key, row_limit=25)
        Path(args.profile).write_text(table + "\n")
    seconds = time.monotonic() - began
    from torch._dynamo.utils import counters

    logged = [r for r in history if "tokens_per_s" in r]
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu_check else "cpu")
    peak = peak_flops(device)
    seq, layers = config.data.seq_len, model_config.layers
    heads, head_dim = model_config.heads, model_config.head_dim
    result = {
        "versions": versions(),
        "config": raw,
        "n_params": n_params,
        "seconds": seconds,
        "loss_step1": history[0]["loss"],
        "eval_start": first.get("eval_loss") if first.get("step") == 0 else None,
        "windows": logged,
        "graph_breaks": sum(counters["graph_break"].values()),
        "unique_graphs": counters["stats"]["unique_graphs"],
        "peak_flops": peak,
        # MFU under the other counts, from the measured window's tokens/s.
        "flops_per_token_6n": 6 * n_params,
        "flops_per_token_causal": 6 * n_params + 12 * layers * heads * head_dim * (seq + 1) / 2,
        "history": history,
    }
    Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    return 0


def child(kind: str, config: dict, json_path: Path, cpu: bool, timeout: float,
          profile: Path | None = None) -> dict[str, Any]:  # fmt: skip
    """Run `cmd_run` in a fresh process (fresh memory and compile state); its result, or the
    failure as {"failed": ...}."""
    command = [sys.executable, __file__, "run", "--config", json.dumps(config), "--json",
               str(json_path)]  # fmt: skip
    if cpu:
        command.append("--cpu-check")
    if profile is not None:
        command += ["--profile", str(profile)]
    began = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        sys.stderr.write(f"# {kind}: over its {timeout:.0f} s limit\n{_text(exc.stderr)[-6000:]}")
        return {"failed": f"over its {timeout:.0f} s limit", "seconds": timeout}
    took = time.monotonic() - began
    sys.stderr.write(f"# {kind}: exit {done.returncode} after {took:.0f} s\n")
    sys.stderr.write(done.stdout[-3000:] + done.stderr[-6000:])
    sys.stderr.flush()
    if done.returncode != 0 or not json_path.is_file():
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        oom = "OutOfMemoryError" in done.stderr
        return {"failed": "out of memory" if oom else f"exit {done.returncode}: {last[:100]}",
                "seconds": took}  # fmt: skip
    return json.loads(json_path.read_text())


def _text(output: bytes | str | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def measured(result: dict[str, Any]) -> dict[str, Any] | None:
    """The last logged window before any profiled steps (the steady state)."""
    windows = result.get("windows") or []
    timed = result.get("timed_window")
    for window in windows:
        if window["step"] == timed:
            return window
    return windows[-1] if windows else None


def cmd_throughput(args: argparse.Namespace) -> int:
    cpu = args.cpu_check
    sizes = ["tiny"] if cpu else args.sizes.split(",")
    seq = 64 if cpu else args.seq
    rows: list[dict[str, Any]] = []
    scratch = Path(tempfile.mkdtemp(prefix="heed-throughput-"))
    began = time.monotonic()
    for size in sizes:
        base = size.partition(":")[0]
        variants = args.variants or DEFAULT_VARIANTS.get(base, "dense-eager,flex-compiled")
        micro, accum, timed = SHAPES[base]
        micro = args.micro or micro
        timed = args.timed_steps or timed
        for variant in variants.split(","):
            attention, _, mode = variant.partition("-")
            profiled = base in args.profile.split(",")
            profile = scratch / f"profile-{base}-{variant}.txt" if profiled else None
            extra = 2 if profile else 0
            config = run_config(
                size, attention, mode == "compiled", seq, micro, accum, 2 * timed + extra,
                timed, scratch / f"{base}-{variant}", args.tokens, cpu,
            )  # fmt: skip
            json_path = scratch / f"{base}-{variant}.json"
            result = child(f"{size} {variant}", config, json_path, cpu, args.timeout, profile)
            result["timed_window"] = 2 * timed
            row = {"size": size, "variant": variant, "micro": micro, "accum": accum, "seq": seq,
                   **result}  # fmt: skip
            if profile is not None and profile.is_file() and args.profiles:
                with args.profiles.open("a", encoding="utf-8") as f:
                    f.write(f"## {size} {variant}: two steps, by CUDA time\n\n")
                    f.write(profile.read_text() + "\n")
            rows.append(row)
            print(f"# {format_throughput(row)}", file=sys.stderr, flush=True)
    print_throughput(rows, time.monotonic() - began)
    if args.json:
        slim = [{k: v for k, v in r.items() if k != "history"} for r in rows]
        args.json.write_text(json.dumps(slim, indent=1, default=str))
    return 1 if any("failed" in r for r in rows) else 0


def format_throughput(row: dict[str, Any], baseline: float | None = None) -> str:
    head = [row["size"], row["variant"]]
    window = measured(row) if "failed" not in row else None
    if window is None:
        return "| " + " | ".join([*head, row.get("failed", "no window"), *["-"] * 9]) + " |"
    rate = window["tokens_per_s"]
    peak = row.get("peak_flops")

    def mfu(per_token: float) -> str:
        return f"{100 * per_token * rate / peak:.1f}%" if peak else "-"

    cells = [
        f"{rate:,.0f}",
        f"{rate / baseline:.2f}×" if baseline else "-",
        f"{100 * window['mfu']:.1f}%" if window.get("mfu") is not None else "-",
        mfu(row["flops_per_token_6n"]),
        mfu(row["flops_per_token_causal"]),
        f"{window['tflops_per_device']:.0f}",
        f"{window['max_memory_gib']:.1f}" if "max_memory_gib" in window else "-",
        f"{row['loss_step1']:.4f}",
        f"{row['graph_breaks']} / {row['unique_graphs']}",
        f"{row['seconds']:.0f}",
    ]
    return "| " + " | ".join(head + cells) + " |"


def print_throughput(rows: list[dict[str, Any]], seconds: float) -> None:
    done = [r for r in rows if "failed" not in r]
    v = done[0]["versions"] if done else versions()
    print(f"## Trainer throughput\n\n{versions_line(v)}\n")
    if done:
        first = done[0]
        data = first["config"]["data"]
        precision = "fp32" if first["config"]["run"]["precision"] == "fp32" else "bf16 autocast"
        print(
            f"train() on the sample corpus's documents (mean ~420 tokens, packed), sequence "
            f"{data['seq_len']}, {precision}, "
            "AdEMAMix, Goldfish k = 50; per size: rows per micro-batch × micro-batches per step "
            "as in the table. tokens/s: the last window of steps after a warm-up window (which "
            "holds compilation). MFU: 6·N·tokens + 12·L·H·D·(pairs the document mask allows), "
            "over the card's dense bf16 peak; beside it 6·N alone and 6·N + the full causal "
            "triangle per row. Loss at step 1: the same seed and data in every variant, so it "
            "must agree to bf16 precision. Breaks / graphs: dynamo's graph breaks and the "
            "graphs it compiled.\n"
        )
    print("| size | variant | tokens/s | vs dense-eager | MFU (stated) | MFU (6N) | "
          "MFU (causal) | TFLOP/s | peak GiB | loss at step 1 | breaks / graphs | s |")  # fmt: skip
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        baseline = next(
            (measured(r)["tokens_per_s"] for r in done
             if r["size"] == row["size"] and r["variant"] == "dense-eager" and measured(r)),
            None,
        )  # fmt: skip
        print(format_throughput(row, baseline))
    for row in done:
        print(f"\n{row['size']} {row['variant']}: micro-batch {row['micro']} × {row['seq']}, "
              f"{row['accum']} per step; N = {row['n_params']:,}", end="")  # fmt: skip
    print(f"\n\n{seconds:.0f} s in all.")


# --- loss curves ----------------------------------------------------------------------------


def cmd_curves(args: argparse.Namespace) -> int:
    from heed.training.data import token_files

    cpu = args.cpu_check
    on_cpu = cpu or args.device == "cpu"
    size = "tiny" if cpu else args.size
    seq = 64 if cpu else args.seq
    steps = 4 if cpu else args.steps
    micro, accum = (2, 1) if cpu else (args.micro, 1)
    every = 2 if cpu else max(steps // 10, 1)
    files = token_files(args.tokens)
    held_out = files[-1].name
    scratch = Path(tempfile.mkdtemp(prefix="heed-curves-"))
    runs = {}
    for name, k in (("without Goldfish", 0), ("Goldfish k = 50, h = 50", 50)):
        tag = "goldfish" if k else "plain"
        config = run_config(
            size, args.attention, args.compile and not on_cpu, seq, micro, accum, steps, every,
            scratch / tag, args.tokens, on_cpu,
            data={"eval_files": [held_out], "eval_batches": 4},
            goldfish={"k": k},
            optim={"lr": 3e-3},
            run={"eval_every": every, "checkpoint_every": 0, "log_every": every},
        )  # fmt: skip
        result = child(name, config, scratch / f"{tag}.json", cpu, args.timeout)
        if "failed" not in result:
            result["memorization"] = memorize(
                scratch / tag, files[:-1], files[-1:], seq, "cpu" if on_cpu else "cuda",
                4 if cpu else 128,
            )  # fmt: skip
        runs[name] = result
    write_curves(runs, args, steps, seq, micro, held_out)
    return 1 if any("failed" in r for r in runs.values()) else 0


def memorize(run: Path, train_files: list[Path], held_files: list[Path], seq: int,
             device: str, count: int) -> dict[str, Any]:  # fmt: skip
    """The Goldfish paper's measure on `count` training documents and as many held-out ones
    (the control)."""
    from heed.training.data import list_units, read_unit
    from heed.training.memorization import memorization
    from heed.training.train import load_model

    model = load_model(run, device)
    out = {}
    for name, files in (("training", train_files), ("held out", held_files)):
        docs = [d for u in list_units(files) for d in read_unit(u)][:count]
        # Documents cut to 512 tokens (most sample documents are shorter); at least 128, so that
        # the CPU check's short rows still leave prefix + 50 tokens.
        out[name] = memorization(model, docs, context=max(min(seq, 512), 128)).to_dict()
    return out


def write_curves(
    runs: dict[str, Any], args: argparse.Namespace, steps: int, seq: int, micro: int,
    held_out: str,
) -> None:  # fmt: skip
    v = next((r["versions"] for r in runs.values() if "versions" in r), versions())
    size = "tiny" if args.cpu_check else args.size
    lines = [
        f"## Loss curves: the {size} model with and without Goldfish"
        if not args.cpu_check
        else "## Loss curves (CPU check: tiny model, a few steps)",
        "",
        versions_line(v),
        "",
        f"Model {size}, {steps} steps of {micro} × {seq} tokens on the sample corpus (all part "
        f"files but {held_out}, which is the held-out set), AdEMAMix lr 3e-3, WSD schedule; "
        "training loss over the targets each run keeps (Goldfish leaves out ~1/50), held-out "
        "loss over every target. Memorisation: greedy continuation of each document's last 50 "
        "tokens from the rest (exact: all 50 reproduced).",
        "",
        "| run | train loss (last window) | held-out loss (end) | memorised exactly (train) | "
        "tokens matched (train) | memorised exactly (held out) | s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in runs.items():
        if "failed" in r:
            lines.append(f"| {name} | {r['failed']} | - | - | - | - | - |")
            continue
        history = r["history"]
        evals = [h for h in history if "eval_loss" in h]
        last = [h["loss"] for h in history[-max(len(history) // 10, 1) :]]
        mem = r["memorization"]
        lines.append(
            f"| {name} | {sum(last) / len(last):.3f} | {evals[-1]['eval_loss']:.3f} | "
            f"{100 * mem['training']['exact_match']:.1f}% of {mem['training']['documents']} | "
            f"{100 * mem['training']['token_match']:.1f}% | "
            f"{100 * mem['held out']['exact_match']:.1f}% of {mem['held out']['documents']} | "
            f"{r['seconds']:.0f} |"
        )
    print("\n".join(lines))
    curves = {
        name: {
            "steps": [h["step"] for h in r["history"]],
            "loss": [h["loss"] for h in r["history"]],
            "eval_steps": [0] * (r.get("eval_start") is not None)
            + [h["step"] for h in r["history"] if "eval_loss" in h],
            "eval_loss": [r["eval_start"]] * (r.get("eval_start") is not None)
            + [h["eval_loss"] for h in r["history"] if "eval_loss" in h],
            "memorization": r["memorization"],
        }
        for name, r in runs.items()
        if "failed" not in r
    }
    meta = {"title": f"{size}: {steps} steps of {micro} × {seq} tokens, sample corpus",
            "device": v["device"], "versions": versions_line(v)}  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "runs": curves}, indent=1))
    if args.png:
        plot({"meta": meta, "runs": curves}, args.png)


def plot(curves: dict[str, Any], png: Path) -> None:
    """Training and held-out loss against steps, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for (name, run), colour in zip(
        curves["runs"].items(), ("tab:blue", "tab:orange"), strict=False
    ):
        steps, loss = run["steps"], run["loss"]
        left.plot(steps, loss, color=colour, linewidth=0.6, alpha=0.35)
        # The mean of the last 10 steps: one step's batch is a noisy sample.
        window = [
            sum(loss[max(i - 9, 0) : i + 1]) / (i + 1 - max(i - 9, 0)) for i in range(len(loss))
        ]
        left.plot(steps, window, color=colour, linewidth=1.5, label=f"{name} (mean of 10 steps)")
        right.plot(run["eval_steps"], run["eval_loss"], color=colour, marker="o", label=name,
                   linewidth=1)  # fmt: skip
    left.set_title("training loss (kept targets)")
    right.set_title("held-out loss (all targets)")
    for ax in (left, right):
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend()
    left.set_ylabel("cross-entropy (nats)")
    fig.suptitle(f"{curves['meta']['title']} — {curves['meta']['device']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def cmd_plot(args: argparse.Namespace) -> int:
    plot(json.loads(Path(args.curves).read_text()), Path(args.png))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--cpu-check", action="store_true", help="tiny model on the CPU")
        p.add_argument("--json", type=Path, help="also write the results here")

    common(commands.add_parser("verify", help="attention backends against the dense mask"))
    p = commands.add_parser("throughput", help="tokens/s, MFU, memory per size and variant")
    common(p)
    p.add_argument("--sizes", default="1b,125m", help="model sizes, e.g. 1b,125m,8b:layers=4")
    p.add_argument("--variants", default="", help=f"comma-separated of {', '.join(VARIANTS)}")
    p.add_argument("--seq", type=int, default=4096)
    p.add_argument("--micro", type=int, default=0, help="rows per micro-batch (0: per size)")
    p.add_argument("--timed-steps", type=int, default=0, help="steps per window (0: per size)")
    p.add_argument("--timeout", type=float, default=240, help="seconds per variant")
    p.add_argument("--profile", default="", help="sizes whose variants get two profiled steps")
    p.add_argument("--profiles", type=Path, help="append the profiles' tables to this file")
    p.add_argument("--tokens", type=Path, default=SAMPLE_TOKENS)
    p = commands.add_parser("curves", help="loss curves with and without Goldfish")
    common(p)
    p.add_argument("--size", default="125m")
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--seq", type=int, default=4096)
    p.add_argument("--micro", type=int, default=16)
    p.add_argument("--attention", default="auto")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--timeout", type=float, default=240, help="seconds per run")
    p.add_argument("--png", type=Path, help="plot the curves into this PNG (matplotlib)")
    p.add_argument("--device", default="cuda", help="cuda, or cpu for a real run on the CPU")
    p.add_argument("--tokens", type=Path, default=SAMPLE_TOKENS)
    p = commands.add_parser("plot", help="a curves JSON as a PNG")
    p.add_argument("curves")
    p.add_argument("png")
    p = commands.add_parser("run", help="(internal) one training run, result as JSON")
    p.add_argument("--config", required=True)
    p.add_argument("--json", required=True)
    p.add_argument("--profile")
    p.add_argument("--cpu-check", action="store_true")
    args = parser.parse_args()
    needs_gpu = args.command in ("verify", "throughput") or (
        args.command == "curves" and args.device != "cpu"
    )
    if needs_gpu and not args.cpu_check and not torch.cuda.is_available():
        print(
            f"benchmarks/trainer.py {args.command} needs a CUDA device and found none "
            "(--cpu-check runs it on a tiny model on the CPU).",
            file=sys.stderr,
        )
        return 2
    handler = {"verify": cmd_verify, "throughput": cmd_throughput, "curves": cmd_curves,
               "plot": cmd_plot, "run": cmd_run}[args.command]  # fmt: skip
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
