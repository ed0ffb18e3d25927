"""kernels/ on one GPU: each Triton kernel beside PyTorch eager and torch.compile of its
reference, on Apertus-8B shapes in bf16 (hidden 4,096, 32 query and 8 key/value heads of 128,
vocabulary 131,072, 8 × 4,096 tokens, MLP width 21,504).

For each op and variant: the median time of CUDA events over --reps runs (forward and
backward where there is one), torch.cuda.max_memory_allocated (and how much of it came on top
of the inputs), and the relative error ‖out − ref‖ / ‖ref‖ of every output and gradient (the
largest is shown) against the reference run in fp32 on the same values; the target for bf16
is below 1e-2. AdEMAMix runs on fp32 parameters and states (the optimizer's own precision).
Prints a markdown table headed by the card's name, then the issue's targets as ratios. Meant
to finish within 5 minutes.

    python benchmarks/kernels.py [--reps 10] [--ops rmsnorm,rope,xielu,cross_entropy,ademamix]
    python benchmarks/kernels.py --sweep     # also the kernels' tuning knobs, a row each
    python benchmarks/kernels.py --verify    # correctness on the GPU, odd shapes, fp32 and bf16
    python benchmarks/kernels.py --cpu-check [--verify]  # no GPU: tiny shapes, interpreted

--verify compares every kernel on CUDA with its reference run in float64, on odd shapes (a
single token, widths that are no power of two, vocabularies wider than one block), with every
output buffer poisoned with NaN: fp32 within 1e-5 and bf16 within 1e-2 (eager bf16's own
error shown beside it), and masked tokens' gradients exactly zero; exit status 1 on a failure.
--cpu-check runs eager and the kernels (under TRITON_INTERPRET=1) on tiny fp32 shapes, without
torch.compile: it proves that the script, its shapes and its calls run; its numbers mean
nothing. A variant that fails is shown as an error row (traceback on stderr) and the rest go on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
if "--cpu-check" in sys.argv:
    # The kernels run on CPU tensors only under Triton's interpreter, chosen at import.
    os.environ.setdefault("TRITON_INTERPRET", "1")

import heed.kernels._common as common
import heed.kernels.cross_entropy as cross_entropy_module
import heed.kernels.xielu as xielu_module
from heed.kernels.ademamix import ademamix_step_kernel, ademamix_step_reference
from heed.kernels.cross_entropy import (
    fused_linear_cross_entropy,
    fused_linear_cross_entropy_reference,
)
from heed.kernels.rmsnorm import rms_norm, rms_norm_reference
from heed.kernels.rope import qk_norm_rope, qk_norm_rope_reference
from heed.kernels.xielu import softplus_inverse, xielu, xielu_reference


@dataclass(frozen=True)
class Shapes:
    batch: int = 8
    seq: int = 4096
    hidden: int = 4096
    q_heads: int = 32
    kv_heads: int = 8
    head_dim: int = 128
    vocab: int = 131_072
    mlp: int = 21_504

    @property
    def tokens(self) -> int:
        return self.batch * self.seq


APERTUS_8B = Shapes()
TINY = Shapes(batch=2, seq=8, hidden=64, q_heads=4, kv_heads=2, head_dim=16, vocab=256, mlp=96)
# --verify: a single token with widths that are no power of two; then a few sequences at the
# model's head layout with a vocabulary wider than the cross-entropy's column block (32,768).
ODD_GPU = (
    Shapes(batch=1, seq=1, hidden=1000, q_heads=5, kv_heads=3, head_dim=48, vocab=3001, mlp=1001),
    Shapes(
        batch=3, seq=37, hidden=4100, q_heads=32, kv_heads=8, head_dim=128, vocab=40_001, mlp=3333
    ),
)
ODD_CPU = (
    Shapes(batch=1, seq=1, hidden=50, q_heads=3, kv_heads=1, head_dim=12, vocab=101, mlp=37),
    Shapes(batch=2, seq=5, hidden=70, q_heads=4, kv_heads=2, head_dim=20, vocab=300, mlp=45),
)

Inputs = dict[str, torch.Tensor]
Variant = Callable[[Inputs], list[torch.Tensor]]


@dataclass
class Op:
    """One op: make(dtype, device, gen) builds its inputs; variant(fn) wraps an implementation
    into a run mapping inputs to the tensors to compare (output first, then gradients);
    `kernel` is the Triton run with the default settings, `tuned` more Triton runs with other
    settings (label → run) for --sweep; `exact`, where the fp32 reference cannot run whole
    (memory), computes the same reference in parts."""

    title: str
    make: Callable[[torch.dtype, torch.device, torch.Generator], Inputs]
    variant: Callable[[Callable], Variant]
    reference: Callable
    kernel: Variant
    tuned: dict[str, Variant] = field(default_factory=dict)
    exact: Variant | None = None
    # --verify: the rows that must get exactly zero gradient (a mask over the inputs' rows) and
    # the index of that gradient among the run's outputs.
    zero_rows: tuple[Callable[[Inputs], torch.Tensor], int] | None = None


def leaves(inputs: Inputs, names: tuple[str, ...]) -> Inputs:
    """Fresh leaf tensors for the inputs that take gradients, so each run starts clean."""
    out = dict(inputs)
    for name in names:
        out[name] = inputs[name].detach().requires_grad_()
    return out


@contextlib.contextmanager
def setting(module: ModuleType, name: str, value: object) -> Iterator[None]:
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def with_setting(run: Variant, module: ModuleType, name: str, value: object) -> Variant:
    """`run` with a module's tuning constant set to `value` for its duration."""

    def tuned(inputs: Inputs) -> list[torch.Tensor]:
        with setting(module, name, value):
            return run(inputs)

    return tuned


def programs_per_sm_sweep(kernel: Variant) -> dict[str, Variant]:
    return {
        f"programs/SM={k}": with_setting(kernel, common, "PROGRAMS_PER_SM", k)
        for k in (1, 2, 8)
        if k != common.PROGRAMS_PER_SM
    }


def rmsnorm_op(s: Shapes) -> Op:
    def make(dtype, device, gen):
        x = torch.randn(s.tokens, s.hidden, generator=gen, device=device).to(dtype)
        w = (1 + 0.1 * torch.randn(s.hidden, generator=gen, device=device)).to(dtype)
        dy = torch.randn(s.tokens, s.hidden, generator=gen, device=device).to(dtype)
        return {"x": x, "w": w, "dy": dy}

    def variant(fn):
        def run(inputs):
            t = leaves(inputs, ("x", "w"))
            y = fn(t["x"], t["w"])
            y.backward(t["dy"])
            return [y, t["x"].grad, t["w"].grad]

        return run

    kernel = variant(lambda x, w: rms_norm(x, w, use_kernel=True))
    return Op("RMSNorm fwd+bwd", make, variant, rms_norm_reference, kernel,
              programs_per_sm_sweep(kernel))  # fmt: skip


def rope_op(s: Shapes) -> Op:
    def make(dtype, device, gen):
        q = torch.randn(s.batch, s.seq, s.q_heads, s.head_dim, generator=gen, device=device)
        k = torch.randn(s.batch, s.seq, s.kv_heads, s.head_dim, generator=gen, device=device)
        # Packed documents: positions restart at random places in each row.
        starts = torch.rand(s.batch, s.seq, generator=gen, device=device) < 4 / s.seq
        starts[:, 0] = True
        index = torch.arange(s.seq, device=device).expand(s.batch, s.seq)
        doc_start = torch.where(starts, index, 0).cummax(dim=1).values
        return {
            "q": q.to(dtype),
            "k": k.to(dtype),
            "qw": (1 + 0.1 * torch.randn(s.head_dim, generator=gen, device=device)).to(dtype),
            "kw": (1 + 0.1 * torch.randn(s.head_dim, generator=gen, device=device)).to(dtype),
            "pos": index - doc_start,
            "dq": torch.randn(q.shape, generator=gen, device=device).to(dtype),
            "dk": torch.randn(k.shape, generator=gen, device=device).to(dtype),
        }

    def variant(fn):
        def run(inputs):
            t = leaves(inputs, ("q", "k", "qw", "kw"))
            qy, ky = fn(t["q"], t["k"], t["qw"], t["kw"], t["pos"])
            torch.autograd.backward((qy, ky), (t["dq"], t["dk"]))
            return [qy, ky, t["q"].grad, t["k"].grad, t["qw"].grad, t["kw"].grad]

        return run

    kernel = variant(lambda q, k, qw, kw, pos: qk_norm_rope(q, k, qw, kw, pos, use_kernel=True))
    return Op("QK-norm + RoPE fwd+bwd", make, variant, qk_norm_rope_reference, kernel,
              programs_per_sm_sweep(kernel))  # fmt: skip


def xielu_op(s: Shapes) -> Op:
    def make(dtype, device, gen):
        x = torch.randn(s.tokens, s.mlp, generator=gen, device=device) * 2
        return {
            "x": x.to(dtype),
            "ap": torch.tensor(softplus_inverse(0.8), device=device),
            "an": torch.tensor(softplus_inverse(0.3), device=device),
            "dy": torch.randn(x.shape, generator=gen, device=device).to(dtype),
        }

    def variant(fn):
        def run(inputs):
            t = leaves(inputs, ("x", "ap", "an"))
            y = fn(t["x"], t["ap"], t["an"])
            y.backward(t["dy"])
            return [y, t["x"].grad, t["ap"].grad, t["an"].grad]

        return run

    def kernel_with(block: int | None = None) -> Variant:
        extra = {} if block is None else {"block_size": block}
        return variant(lambda x, ap, an: xielu(x, ap, an, use_kernel=True, **extra))

    others = [b for b in (1024, 2048, 8192) if b != xielu_module.BLOCK]
    tuned = {f"block={b}": kernel_with(b) for b in others}
    return Op("xIELU fwd+bwd", make, variant, xielu_reference, kernel_with(), tuned)


def cross_entropy_op(s: Shapes) -> Op:
    def make(dtype, device, gen):
        h = torch.randn(s.tokens, s.hidden, generator=gen, device=device)
        w = torch.randn(s.vocab, s.hidden, generator=gen, device=device) * s.hidden**-0.5
        target = torch.randint(0, s.vocab, (s.tokens,), generator=gen, device=device)
        # About 2% dropped, as the Goldfish mask (k = 50) does, plus a little padding.
        keep = torch.rand(s.tokens, generator=gen, device=device) > 0.02
        if s.seq >= 64:
            target[-(s.seq // 64) :] = -100
        return {"h": h.to(dtype), "w": w.to(dtype), "target": target, "keep": keep}

    def variant(fn):
        def run(inputs):
            t = leaves(inputs, ("h", "w"))
            loss = fn(t["h"], t["w"], t["target"], t["keep"])
            loss.backward()
            return [loss, t["h"].grad, t["w"].grad]

        return run

    def exact(inputs):
        # The fp32 reference one sequence at a time (the full fp32 logits would take 17 GB and
        # their softmax as much again): each part is the reference's mean over its own rows,
        # reweighted to the whole batch's count, and backward adds up the gradients.
        t = leaves(inputs, ("h", "w"))
        kept = t["keep"] & (t["target"] != -100)
        loss = torch.zeros((), device=t["h"].device)
        for rows in torch.arange(s.tokens, device=t["h"].device).split(s.seq):
            part = fused_linear_cross_entropy_reference(
                t["h"][rows], t["w"], t["target"][rows], t["keep"][rows]
            ) * (kept[rows].sum() / kept.sum())
            part.backward()
            loss += part.detach()
        return [loss, t["h"].grad, t["w"].grad]

    def kernel_with(chunk: int | None = None) -> Variant:
        return variant(
            lambda h, w, t, keep: fused_linear_cross_entropy(
                h, w, t, keep, use_kernel=True, chunk_size=chunk
            )
        )

    kernel = kernel_with()
    chunk = cross_entropy_module.default_chunk_size(s.tokens, s.hidden, s.vocab)
    tuned = {f"chunk={c}": kernel_with(c) for c in (chunk // 4, chunk // 2, chunk * 2)}
    tuned["bf16 product + add"] = with_setting(
        kernel, cross_entropy_module, "GEMM_ACCUMULATES", False
    )
    return Op("fused linear cross-entropy fwd+bwd", make, variant,
              fused_linear_cross_entropy_reference, kernel, tuned, exact,
              zero_rows=(lambda t: ~t["keep"] | (t["target"] == -100), 1))  # fmt: skip


def ademamix_op(s: Shapes) -> Op:
    # One MLP weight (hidden × MLP width), a state in mid-training, step 100, warmed-up α and β3.
    args = {"step": 100, "lr": 3e-4, "alpha": 8.0, "beta3": 0.9999}

    def make(dtype, device, gen):
        shape = (s.hidden, s.mlp)
        g = torch.randn(shape, generator=gen, device=device) * 1e-2
        return {
            "param": torch.randn(shape, generator=gen, device=device) * 0.02,
            "grad": g,
            "m1": g * 0.5,
            "m2": g * 0.1,
            "v": g * g,
        }

    def variant(fn):
        def run(inputs):
            # In place: each run steps its own copies, so every variant starts from one state.
            t = {k: v.clone() for k, v in inputs.items()}
            fn(t["param"], t["grad"], t["m1"], t["m2"], t["v"], **args)
            return [t["param"] - inputs["param"], t["m1"], t["m2"], t["v"]]

        return run

    def kernel_with(block: int | None = None) -> Variant:
        extra = {} if block is None else {"block_size": block}
        return variant(lambda *tensors, **kw: ademamix_step_kernel(*tensors, **kw, **extra))

    tuned = {f"block={b}": kernel_with(b) for b in (4096,)}
    return Op("AdEMAMix step (fp32, Δθ and states)", make, variant, ademamix_step_reference,
              kernel_with(), tuned)  # fmt: skip


OPS = {
    "rmsnorm": rmsnorm_op,
    "rope": rope_op,
    "xielu": xielu_op,
    "cross_entropy": cross_entropy_op,
    "ademamix": ademamix_op,
}


def rel(out: torch.Tensor, ref: torch.Tensor) -> float:
    ref = ref.detach().double()
    return ((out.detach().double() - ref).norm() / ref.norm().clamp_min(1e-30)).item()


def as_dtype(inputs: Inputs, dtype: torch.dtype) -> Inputs:
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in inputs.items()}


def timed(run: Variant, inputs: Inputs, reps: int, device: torch.device) -> tuple[float, int, int]:
    """(median ms, peak bytes, peak bytes above what was allocated before) over reps runs."""
    run(inputs)  # warm-up: compiles Triton kernels, and torch.compile's graphs
    if device.type != "cuda":
        times = []
        for _ in range(reps):
            began = time.perf_counter()
            run(inputs)
            times.append((time.perf_counter() - began) * 1e3)
        return statistics.median(times), 0, 0
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        run(inputs)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    peak = torch.cuda.max_memory_allocated()
    return statistics.median(times), peak, peak - before


def failure(what: str, exc: BaseException) -> str:
    """Log the traceback on stderr; a short form for the table."""
    print(f"# {what} failed:", file=sys.stderr)
    traceback.print_exception(exc, file=sys.stderr)
    return f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''}"


def bench_op(key: str, shapes: Shapes, device: torch.device, reps: int, cpu_check: bool,
             sweep: bool) -> list[dict]:  # fmt: skip
    op = OPS[key](shapes)
    dtype = torch.float32 if key == "ademamix" or cpu_check else torch.bfloat16
    gen = torch.Generator(device=device).manual_seed(0)
    inputs = op.make(dtype, device, gen)
    # The fp32 reference on the very same values.
    want = [
        t.detach() for t in (op.exact or op.variant(op.reference))(as_dtype(inputs, torch.float32))
    ]
    variants: dict[str, Variant] = {"eager": op.variant(op.reference)}
    if not cpu_check:  # (torch.compile on the CPU would spend minutes compiling C++)
        variants["torch.compile"] = op.variant(torch.compile(op.reference))
    variants["triton"] = op.kernel
    if sweep:
        variants.update({f"triton [{label}]": run for label, run in op.tuned.items()})
    rows = []
    for name, run in variants.items():
        row = {"op": key, "title": op.title, "variant": name}
        try:
            got = run(inputs)
            row["error"] = max(rel(g, w) for g, w in zip(got, want, strict=True))
            del got
            row["ms"], row["peak"], row["extra"] = timed(run, inputs, reps, device)
        except torch.OutOfMemoryError:
            row["failed"] = "OOM"
        except Exception as exc:  # one variant's failure must not end the run
            row["failed"] = failure(f"{key} {name}", exc)
        rows.append(row)
        print(f"# {format_row(row)}", file=sys.stderr, flush=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return rows


def format_row(row: dict) -> str:
    if "failed" in row:
        cells = [row["title"], row["variant"], row["failed"], "-", "-", "-"]
    else:
        cells = [
            row["title"], row["variant"], f"{row['ms']:.3f}", f"{row['peak'] / 2**30:.2f}",
            f"{row['extra'] / 2**30:.2f}", f"{row['error']:.1e}",
        ]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def targets(rows: list[dict]) -> list[str]:
    """The issue's targets as ratios between rows of this run."""
    by = {(r["op"], r["variant"]): r for r in rows if "failed" not in r}
    lines = []
    for op, name in (("rmsnorm", "RMSNorm"), ("xielu", "xIELU")):
        t, c = by.get((op, "triton")), by.get((op, "torch.compile"))
        if t and c:
            ratio = t["ms"] / c["ms"]
            verdict = "met" if ratio <= 1 else "missed"
            lines.append(
                f"- {name}: triton / torch.compile time = {ratio:.2f} (target ≤ 1: {verdict})"
            )
    t, e = by.get(("cross_entropy", "triton")), by.get(("cross_entropy", "eager"))
    if t and e:
        mem, ms = t["extra"] / e["extra"], t["ms"] / e["ms"]
        lines.append(
            f"- fused cross-entropy / unfused eager: memory above inputs {mem:.3f} (target ≤ 0.25: "
            f"{'met' if mem <= 0.25 else 'missed'}), peak {t['peak'] / e['peak']:.3f}, time "
            f"{ms:.2f} (target ≤ 1.1: {'met' if ms <= 1.1 else 'missed'})"
        )
    for r in rows:
        if "failed" not in r and r["op"] != "ademamix" and r["error"] >= 1e-2:
            lines.append(f"- {r['op']} {r['variant']}: bf16 error {r['error']:.1e} ≥ 1e-2")
    return lines


def verify(device: torch.device, shapes_list: tuple[Shapes, ...], ops: list[str]) -> bool:
    """Every kernel against its float64 reference on odd shapes, buffers poisoned; True if
    all pass. fp32 within 1e-5; bf16 (not on the CPU) within 1e-2, eager bf16 shown beside."""
    common.POISON = True
    torch.backends.cuda.matmul.allow_tf32 = False
    dtypes = [torch.float32] + ([torch.bfloat16] if device.type == "cuda" else [])
    print("| op | shape | dtype | triton rel. error | eager rel. error | bound | result |")
    print("| --- | --- | --- | ---: | ---: | ---: | --- |")
    ok = True
    for key in ops:
        for shapes in shapes_list:
            op = OPS[key](shapes)
            label = (f"{shapes.batch}×{shapes.seq} tokens, H={shapes.hidden}, heads "
                     f"{shapes.q_heads}/{shapes.kv_heads}×{shapes.head_dim}, V={shapes.vocab}, "
                     f"MLP {shapes.mlp}")  # fmt: skip
            for dtype in dtypes:
                if key == "ademamix" and dtype != torch.float32:
                    continue  # the optimizer's states are fp32
                bound = 1e-5 if dtype == torch.float32 else 1e-2
                gen = torch.Generator(device=device).manual_seed(1)
                inputs = op.make(dtype, device, gen)
                try:
                    want = op.variant(op.reference)(as_dtype(inputs, torch.float64))
                    got = op.kernel(inputs)
                    err = max(rel(g, w) for g, w in zip(got, want, strict=True))
                    eager = max(
                        rel(g, w)
                        for g, w in zip(op.variant(op.reference)(inputs), want, strict=True)
                    )
                    passed = err < bound and all(bool(torch.isfinite(g).all()) for g in got)
                    note = ""
                    if op.zero_rows is not None:
                        dropped, index = op.zero_rows
                        zero = bool((got[index][dropped(inputs)] == 0).all())
                        passed = passed and zero
                        note = f", dropped tokens' gradient {'exactly 0' if zero else 'NOT 0'}"
                    cells = [f"{err:.1e}", f"{eager:.1e}", f"{bound:.0e}",
                             ("pass" if passed else "FAIL") + note]  # fmt: skip
                except Exception as exc:  # a failing op is a FAIL row, not the end
                    passed = False
                    cells = ["-", "-", f"{bound:.0e}", "FAIL " + failure(f"verify {key}", exc)]
                ok &= passed
                dt = str(dtype).removeprefix("torch.")
                print("| " + " | ".join([key, label, dt, *cells]) + " |", flush=True)
    common.POISON = False
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--ops", default=",".join(OPS), help="comma-separated: " + ",".join(OPS))
    parser.add_argument("--sweep", action="store_true", help="also time the tuning knobs' values")
    parser.add_argument(
        "--verify", action="store_true",
        help="correctness against float64 references on odd shapes instead of timing",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    parser.add_argument(
        "--cpu-check",
        action="store_true",
        help="tiny fp32 shapes on the CPU, eager and the interpreted kernels: checks the script",
    )
    args = parser.parse_args()
    ops = [op for op in args.ops.split(",") if op]
    unknown = set(ops) - set(OPS)
    if unknown:
        parser.error(f"unknown ops {sorted(unknown)}")
    if args.cpu_check:
        device, shapes, card = torch.device("cpu"), TINY, "CPU check (tiny fp32 shapes, no compile)"
    elif not torch.cuda.is_available():
        print(
            "benchmarks/kernels.py needs a CUDA device and found none "
            "(run with --cpu-check to check the script itself on the CPU).",
            file=sys.stderr,
        )
        return 2
    else:
        device, shapes = torch.device("cuda"), APERTUS_8B
        card = torch.cuda.get_device_name(device)
    versions = f"torch {torch.__version__}, triton {__import__('triton').__version__}"
    began = time.monotonic()
    if args.verify:
        print(f"## kernels/ correctness on {card}\n\n{versions}; references in float64.\n")
        ok = verify(device, ODD_CPU if args.cpu_check else ODD_GPU, ops)
        print(f"\n{'all passed' if ok else 'FAILURES'} in {time.monotonic() - began:.0f} s.")
        return 0 if ok else 1
    rows = []
    for op in ops:
        rows += bench_op(op, shapes, device, args.reps, args.cpu_check, args.sweep)
        print(f"# {op} done at {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
    print(f"## kernels/ on {card}\n")
    print(f"Shapes: {shapes}; {versions}; median of {args.reps} runs.\n")
    print("| op | variant | time (ms) | peak memory (GiB) | above inputs (GiB) | rel. error |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(format_row(row))
    if not args.cpu_check:
        print("\nTargets (this run's rows):\n")
        print("\n".join(targets(rows)))
    print(f"\n{time.monotonic() - began:.0f} s in all.")
    if args.json:
        args.json.write_text(
            json.dumps({"card": card, "versions": versions, "rows": rows}, indent=1)
        )
    return 1 if any("failed" in r for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
