"""The Goldfish loss mask (Hans et al., 2024): leave a pseudo-random 1/k of the targets out of
the loss, chosen by a hash of the h tokens that end at each target, so that the same passage
always loses the same tokens however often it is seen and the model cannot reproduce it
verbatim.

Two hashes:

* ``"apertus"``: exactly the Apertus recipe (its technical report and training code). Target i
  is dropped when ``table[prod(labels[i-h+1..i]) mod 1_000_003] < 1/k``, with ``table =
  torch.rand(1_000_003)`` from a CPU generator seeded 2971215073 and the product in int64,
  wrapping on overflow. The product is 0 modulo 2^64 as soon as its factors hold 64 factors of
  two, which happens for about a tenth of the windows at h = 50; all those windows share one
  table entry, so they are all kept or all dropped together. Kept for compatibility with Apertus
  checkpoints and data.
* ``"rolling"``: a polynomial (Rabin–Karp) hash of the window modulo the Mersenne prime
  2^31 − 1, looked up in the same table. Every token moves the hash, so no window collapses.

In both modes the first h − 1 targets of a sample (a row of the batch) are never dropped: they
have no full window. Both are vectorised over the whole batch (an unfold of the windows).
"""

from __future__ import annotations

import torch

TABLE_SIZE = 1_000_003
TABLE_SEED = 2971215073
MODES = ("apertus", "rolling")

# The rolling hash works modulo 2^31 − 1, so that a residue times a power of the base
# (both < 2^31) fits an int64 exactly and h such products still fit before the final reduction.
ROLLING_PRIME = 2**31 - 1
ROLLING_BASE = TABLE_SEED % ROLLING_PRIME

_table: torch.Tensor | None = None


def goldfish_table() -> torch.Tensor:
    """The shared table of uniform numbers (made once per process, on the CPU)."""
    global _table
    if _table is None:
        generator = torch.Generator(device="cpu").manual_seed(TABLE_SEED)
        _table = torch.rand(TABLE_SIZE, generator=generator)
    return _table


def _window_hashes(windows: torch.Tensor, mode: str) -> torch.Tensor:
    """One non-negative int64 per window (the last dimension of `windows`)."""
    if mode == "apertus":
        # int64 product (wraps on overflow, as in Apertus), then Python-style remainder, which
        # `%` on tensors is: a negative product still gives an index in [0, TABLE_SIZE).
        return windows.prod(dim=-1) % TABLE_SIZE
    h = windows.shape[-1]
    # sum_j (x_j + 1) · b^(h−1−j) mod p; the +1 keeps token 0 from vanishing from the hash.
    powers = torch.ones(h, dtype=torch.int64)
    for j in range(h - 2, -1, -1):
        powers[j] = powers[j + 1] * ROLLING_BASE % ROLLING_PRIME
    terms = (windows + 1) % ROLLING_PRIME * powers.to(windows.device) % ROLLING_PRIME
    return terms.sum(dim=-1) % ROLLING_PRIME % TABLE_SIZE


def goldfish_mask(labels: torch.Tensor, k: int, h: int, mode: str = "apertus") -> torch.Tensor:
    """True where a target stays in the loss, for labels of shape (..., T) (one sample a row).

    Target i (i ≥ h − 1) is dropped when the table entry of its window's hash is below 1/k.
    k ≤ 0 keeps everything (Goldfish off).
    """
    if mode not in MODES:
        raise ValueError(f"goldfish mode {mode!r}: choose one of {', '.join(MODES)}")
    if h < 1:
        raise ValueError(f"goldfish h must be at least 1, got {h}")
    keep = torch.ones(labels.shape, dtype=torch.bool, device=labels.device)
    length = labels.shape[-1]
    if k <= 0 or length < h:
        return keep
    windows = labels.to(torch.int64).unfold(-1, h, 1)  # (..., T − h + 1, h), a view
    table = goldfish_table().to(labels.device)
    keep[..., h - 1 :] = table[_window_hashes(windows, mode)] >= 1.0 / k
    return keep
