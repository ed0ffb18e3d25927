"""kernels/ on one GPU: each Triton kernel beside PyTorch eager and torch.compile of its
reference, on Apertus-8B shapes in bf16 (hidden 4,096, 32 query and 8 key/value heads of 128,
vocabulary 131,072, 8 × 4,096 tokens, MLP width 21,504).

For each op and variant: the median time of CUDA events over --reps runs (forward and
backward where there is one), torch.cuda.max_memory_allocated (and how much of it came on top
of the inputs), and the relative error ‖out − ref‖ / ‖ref‖ of every output and gradient (the
largest is shown) against the reference run in fp32 on the same values; the target for bf16
is below 1e-2. AdEMAMix runs on fp32 parameters and states (the optimizer's own precision).
Prints a markdown table headed by the card's name. Meant to finish within 5 minutes.

    python benchmarks/kernels.py [--reps 10] [--ops rmsnorm,rope,xielu,cross_entropy,ademamix]
    python benchmarks/kernels.py --cpu-check   # no GPU: tiny fp32 shapes on the CPU

--cpu-check runs eager and the kernels (under TRITON_INTERPRET=1) on tiny fp32 shapes, without
torch.compile: it proves that the script, its shapes and its calls run; its numbers mean
nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
if "--cpu-check" in sys.argv:
    # The kernels run on CPU tensors only under Triton's interpreter, chosen at import.
    os.environ.setdefault("TRITON_INTERPRET", "1")

from kernels.ademamix import ademamix_step_kernel, ademamix_step_reference
from kernels.cross_entropy import (
    fused_linear_cross_entropy,
    fused_linear_cross_entropy_reference,
)
from kernels.rmsnorm import rms_norm, rms_norm_reference
from kernels.rope import qk_norm_rope, qk_norm_rope_reference
from kernels.xielu import softplus_inverse, xielu, xielu_reference


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

# An op's builder returns make(dtype, device, gen), which builds its inputs; variant(fn), which
# wraps an implementation into a run mapping inputs to the tensors to compare (output first,
# then gradients); the reference; the kernel's run; and, where the reference cannot run whole
# in fp32 (memory), a run that computes the same fp32 reference in parts.
Inputs = dict[str, torch.Tensor]
Variant = Callable[[Inputs], list[torch.Tensor]]


def leaves(inputs: Inputs, names: tuple[str, ...]) -> Inputs:
    """Fresh leaf tensors for the inputs that take gradients, so each run starts clean."""
    out = dict(inputs)
    for name in names:
        out[name] = inputs[name].detach().requires_grad_()
    return out


def rmsnorm_op(s: Shapes):
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
    return make, variant, rms_norm_reference, kernel, None


def rope_op(s: Shapes):
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
    return make, variant, qk_norm_rope_reference, kernel, None


def xielu_op(s: Shapes):
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

    kernel = variant(lambda x, ap, an: xielu(x, ap, an, use_kernel=True))
    return make, variant, xielu_reference, kernel, None


def cross_entropy_op(s: Shapes):
    def make(dtype, device, gen):
        h = torch.randn(s.tokens, s.hidden, generator=gen, device=device)
        w = torch.randn(s.vocab, s.hidden, generator=gen, device=device) * s.hidden**-0.5
        target = torch.randint(0, s.vocab, (s.tokens,), generator=gen, device=device)
        # About 2% dropped, as the Goldfish mask (k = 50) does, plus a little padding.
        keep = torch.rand(s.tokens, generator=gen, device=device) > 0.02
        target[-s.seq // 64 :] = -100
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

    kernel = variant(
        lambda h, w, t, keep: fused_linear_cross_entropy(h, w, t, keep, use_kernel=True)
    )
    return make, variant, fused_linear_cross_entropy_reference, kernel, exact


def ademamix_op(s: Shapes):
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

    return make, variant, ademamix_step_reference, variant(ademamix_step_kernel), None


OPS = {
    "rmsnorm": ("RMSNorm fwd+bwd", rmsnorm_op),
    "rope": ("QK-norm + RoPE fwd+bwd", rope_op),
    "xielu": ("xIELU fwd+bwd", xielu_op),
    "cross_entropy": ("fused linear cross-entropy fwd+bwd", cross_entropy_op),
    "ademamix": ("AdEMAMix step (fp32, Δθ and states)", ademamix_op),
}


def rel(out: torch.Tensor, ref: torch.Tensor) -> float:
    ref = ref.detach().float()
    return ((out.detach().float() - ref).norm() / ref.norm().clamp_min(1e-30)).item()


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


def bench_op(key: str, shapes: Shapes, device: torch.device, reps: int, cpu_check: bool):
    title, build = OPS[key]
    make, variant, reference, kernel, exact = build(shapes)
    dtype = torch.float32 if key == "ademamix" or cpu_check else torch.bfloat16
    gen = torch.Generator(device=device).manual_seed(0)
    inputs = make(dtype, device, gen)
    # The fp32 reference on the very same values.
    as_fp32 = {k: v.float() if v.is_floating_point() else v for k, v in inputs.items()}
    want = (exact or variant(reference))(as_fp32)
    del as_fp32
    want = [t.detach() for t in want]
    variants: dict[str, Variant] = {"eager": variant(reference)}
    if not cpu_check:  # (torch.compile on the CPU would spend minutes compiling C++)
        variants["torch.compile"] = variant(torch.compile(reference))
    variants["triton"] = kernel
    rows = []
    for name, run in variants.items():
        try:
            got = run(inputs)
            err = max(rel(g, w) for g, w in zip(got, want, strict=True))
            del got
            ms, peak, extra = timed(run, inputs, reps, device)
            rows.append((title, name, f"{ms:.3f}", f"{peak / 2**30:.2f}", f"{extra / 2**30:.2f}",
                         f"{err:.1e}"))  # fmt: skip
        except torch.OutOfMemoryError:
            rows.append((title, name, "OOM", "OOM", "OOM", "-"))
        if device.type == "cuda":
            torch.cuda.empty_cache()
    del inputs, want
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--ops", default=",".join(OPS), help="comma-separated: " + ",".join(OPS))
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
    began = time.monotonic()
    rows = []
    for op in ops:
        rows += bench_op(op, shapes, device, args.reps, args.cpu_check)
        print(f"# {op} done at {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
    print(f"## kernels/ on {card}\n")
    print(f"Shapes: {shapes}; torch {torch.__version__}; median of {args.reps} runs.\n")
    print("| op | variant | time (ms) | peak memory (GiB) | above inputs (GiB) | rel. error |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\n{time.monotonic() - began:.0f} s in all.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
