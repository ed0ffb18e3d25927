"""Model FLOPs and MFU: what a training step must compute, over what the card can do.

    FLOPs per step = 6 · N · tokens + 12 · L · H · D · pairs

N is the parameter count without the input embedding (a lookup, not a matmul; the output
projection counts). 6·N per token is the matmuls' forward (2·N) and backward (4·N).
Attention adds, per layer and query head, for each (query, key) pair that the mask allows:
the score q·k (2·D) and the weighted value (2·D) forward, twice that backward, so 12·D.
`pairs` counts the pairs of one step's batch that the document-masked causal mask allows,
Σ n(n + 1)/2 over the document pieces (lengths n) of every row: what the model needs, not
what a kernel happens to compute (a dense mask computes all T² pairs, flex whole tiles,
flash's backward recomputes the scores). Counting the full causal triangle (T(T + 1)/2 per
row) or, as torchtitan and llm-foundry do, the full T² square instead would raise the figure
with no more useful work done.

MFU = FLOPs per second / the card's dense bf16 peak (no sparsity), summed over the ranks.
"""

from __future__ import annotations

import torch

# Dense bf16 tensor-core peak per device (FLOP/s), by a substring of the CUDA device name;
# the first match wins, so the specific names come first. Vendors' datasheets, no sparsity.
PEAK_FLOPS = [
    ("H100 PCIe", 756e12),
    ("H100 NVL", 835e12),
    ("H100", 989e12),  # SXM (the name says "H100 80GB HBM3")
    ("H200", 989e12),
    ("GH200", 989e12),
    ("B200", 2250e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("A10G", 70e12),
    ("MI300X", 1307e12),
]


def peak_flops(device: torch.device) -> float | None:
    """The device's dense bf16 peak, or None (CPU, or a device not in the table)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((flops for key, flops in PEAK_FLOPS if key in name), None)


def attention_pairs(segments: torch.Tensor) -> int:
    """(query, key) pairs that the document-masked causal mask allows in a (B, T) batch of
    segment ids: Σ n(n + 1)/2 over each row's segments of n tokens."""
    segments = segments.detach().cpu()
    total = 0
    for row in segments:
        _, counts = torch.unique(row, return_counts=True)
        total += int((counts * (counts + 1) // 2).sum())
    return total


def step_flops(
    n_params: int, layers: int, heads: int, head_dim: int, tokens: int, pairs: int
) -> float:
    """Training FLOPs (forward and backward) for `tokens` tokens whose masks allow `pairs`
    (query, key) pairs; n_params without the input embedding. See the module doc."""
    return 6.0 * n_params * tokens + 12.0 * layers * heads * head_dim * pairs
