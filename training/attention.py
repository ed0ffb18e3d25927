"""Attention over packed rows that keeps documents apart: a query sees the earlier tokens of its
own segment only (segment ids from the loader, one per document piece, ≥ 0).

One function, `document_attention`, three implementations of it (the backend):

* dense: `scaled_dot_product_attention` with the (B, 1, T, T) boolean mask. Memory quadratic in
  T, and an explicit mask rules out SDPA's flash kernel. The CPU path and the tests' oracle.
* flex: FlexAttention with a block mask built straight from the segment ids, never from a
  dense mask: a tile of 128 × 128 positions that no query may see is skipped, a tile wholly
  inside one document and below the diagonal runs without evaluating the mask, and only the
  rest evaluate `mask_mod`. It must run compiled (uncompiled, flex materialises the scores).
* varlen: flash attention over the batch as one long sequence cut at the document boundaries
  (cumulative sequence lengths), causal within each piece. Finding the boundaries waits for
  the GPU once per forward pass (the number of pieces sets a shape).

`document_mask` builds what a backend needs once per batch; every layer reuses it. "auto" is
flex on CUDA and dense elsewhere (flex has no backward pass on the CPU, varlen no CPU kernel).
"""

from __future__ import annotations

import functools
import inspect
import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.nn.attention.flex_attention import BlockMask, flex_attention

BACKENDS = ("auto", "dense", "flex", "varlen")
# FlexAttention's default tile; the block mask's granularity.
FLEX_BLOCK = 128


@dataclass(frozen=True)
class DocumentMask:
    """What one backend needs to keep a batch's documents apart (built by `document_mask`)."""

    backend: str
    dense: torch.Tensor | None = None  # dense: (B, 1, T, T) bool, True = may attend
    block_mask: BlockMask | None = None  # flex
    cu_seqlens: torch.Tensor | None = None  # varlen: piece starts in the flattened batch, int32


def resolve_backend(backend: str, device: torch.device) -> str:
    """The backend that `backend` means on `device` ("auto": flex on CUDA, else dense)."""
    if backend not in BACKENDS:
        raise ValueError(f"attention backend {backend!r}: one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "flex" if device.type == "cuda" else "dense"
    return backend


def dense_document_mask(segments: torch.Tensor) -> torch.Tensor:
    """(B, 1, T, T) bool, True where query i may attend to key j: same segment and j ≤ i."""
    seq = segments.shape[-1]
    causal = torch.ones(seq, seq, dtype=torch.bool, device=segments.device).tril()
    same = segments[:, :, None] == segments[:, None, :]
    return (same & causal)[:, None]


def document_mask_mod(segments: torch.Tensor):
    """FlexAttention's mask function for `segments` (B, T'): the dense mask, one entry at a time.
    T' may exceed the sequence (padding up to a whole tile) as long as the padding is a
    segment of its own."""

    def mask_mod(b, h, q_idx, kv_idx):
        return (segments[b, q_idx] == segments[b, kv_idx]) & (kv_idx <= q_idx)

    return mask_mod


def _tile_indices(tiles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(count, indices) per query tile from a (B, Q, K) bool tile map, in BlockMask's layout:
    (B, 1, Q) int32 counts and (B, 1, Q, K) int32 key-tile indices, the chosen ones first."""
    counts = tiles.sum(-1, dtype=torch.int32)
    # A stable sort of "not chosen" puts the chosen tiles first, in increasing order.
    order = torch.argsort((~tiles).to(torch.int8), dim=-1, stable=True).to(torch.int32)
    return counts[:, None], order[:, None]


def document_block_mask(segments: torch.Tensor, block_size: int = FLEX_BLOCK) -> BlockMask:
    """FlexAttention's block mask for `segments` (B, T), computed from each tile's smallest and
    largest segment id: a few (B, T/128, T/128) tensors, never the T × T mask.

    A key tile j is visible to a query tile i when j ≤ i and their id ranges overlap (then some
    query and key may share a document; exact for ids that never decrease along a row, as the
    loader's, and a safe superset otherwise). It is whole (no mask evaluated) when j < i and
    both tiles hold one and the same id. A sequence that does not fill its last tile is padded
    for mask_mod with id −1, which no real token has.
    """
    batch, seq = segments.shape
    tiles = -(-seq // block_size)
    pad = tiles * block_size - seq
    # The tiles' id ranges count real tokens only (the last id repeated into the padding);
    # mask_mod sees the padding as id −1, a segment of its own.
    repeated = torch.cat([segments, segments[:, -1:].expand(batch, pad)], dim=1)
    padded = torch.cat([segments, segments.new_full((batch, pad), -1)], dim=1)
    per_tile = repeated.view(batch, tiles, block_size)
    lo, hi = per_tile.amin(-1), per_tile.amax(-1)  # (B, tiles)
    q_lo, q_hi = lo[:, :, None], hi[:, :, None]  # query tile i along dim 1
    kv_lo, kv_hi = lo[:, None, :], hi[:, None, :]  # key tile j along dim 2
    index = torch.arange(tiles, device=segments.device)
    below = index[None, :] < index[:, None]  # j < i
    on_or_below = index[None, :] <= index[:, None]
    visible = (kv_lo <= q_hi) & (q_lo <= kv_hi) & on_or_below
    whole = below & (q_lo == q_hi) & (kv_lo == kv_hi) & (q_lo == kv_lo)
    if pad:
        whole[:, -1] = False  # a padded query tile keeps mask_mod (as create_block_mask does)
    partial = visible & ~whole
    return BlockMask.from_kv_blocks(
        *_tile_indices(partial),
        *_tile_indices(whole),
        BLOCK_SIZE=block_size,
        mask_mod=document_mask_mod(padded),
        seq_lengths=(seq, seq),
    )


def cumulative_lengths(segments: torch.Tensor) -> torch.Tensor:
    """Where each document piece starts in the flattened (B·T) batch, then B·T: int32, the
    `cu_seqlens` of variable-length flash attention. A piece starts where the id changes and
    at the start of every row (so an id must not come back later in its row, as the loader's
    never do)."""
    batch, seq = segments.shape
    starts = torch.ones_like(segments, dtype=torch.bool)
    starts[:, 1:] = segments[:, 1:] != segments[:, :-1]
    index = starts.reshape(-1).nonzero().reshape(-1)
    end = torch.full((1,), batch * seq, dtype=index.dtype, device=index.device)
    return torch.cat([index, end]).to(torch.int32)


def document_mask(
    segments: torch.Tensor, backend: str, block_size: int = FLEX_BLOCK
) -> DocumentMask:
    """What `backend` ("auto" resolved by segments' device) needs for this batch's segments."""
    backend = resolve_backend(backend, segments.device)
    if backend == "dense":
        return DocumentMask(backend, dense=dense_document_mask(segments))
    if backend == "flex":
        return DocumentMask(backend, block_mask=document_block_mask(segments, block_size))
    cu_seqlens = cumulative_lengths(segments)
    # Its length changes from batch to batch: dynamic from the start, not after a recompile.
    torch._dynamo.maybe_mark_dynamic(cu_seqlens, 0)
    return DocumentMask(backend, cu_seqlens=cu_seqlens)


def document_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: DocumentMask
) -> torch.Tensor:
    """Causal attention within documents: q (B, T, Hq, D), k and v (B, T, Hk, D) with Hk
    dividing Hq (grouped-query attention), scale 1/√D. Returns (B, T, Hq, D)."""
    gqa = q.shape[2] != k.shape[2]
    if mask.backend == "varlen":
        batch, seq, heads, head_dim = q.shape
        flat = (t.reshape(batch * seq, t.shape[2], head_dim) for t in (q, k, v))
        y = _varlen(*flat, mask.cu_seqlens, seq, gqa)
        return y.view(batch, seq, heads, head_dim)
    # SDPA and flex take (B, H, T, D).
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    if mask.backend == "flex":
        y = _flex()(q, k, v, block_mask=mask.block_mask, enable_gqa=gqa)
    else:
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.dense, enable_gqa=gqa)
    return y.transpose(1, 2)


def _flex():
    """flex_attention, compiled where it would otherwise run unfused: on CUDA outside a
    compiled region (inside one, the enclosing compile fuses it). On the CPU uncompiled: the
    tests' path, which evaluates mask_mod everywhere and has no backward pass there."""
    if torch.compiler.is_compiling():
        return flex_attention
    return _compiled_flex()


@functools.cache
def _compiled_flex():
    compiled = torch.compile(flex_attention, dynamic=False)

    def run(q, k, v, **kwargs):
        return compiled(q, k, v, **kwargs) if q.is_cuda else flex_attention(q, k, v, **kwargs)

    return run


def _varlen(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cu_seqlens: torch.Tensor,
    max_len: int,
    gqa: bool,
) -> torch.Tensor:
    """Variable-length causal attention on (N, H, D) tokens cut at cu_seqlens: flash attention
    on CUDA, a loop of SDPA calls (one per piece) elsewhere."""
    if not q.is_cuda:
        return varlen_reference(q, k, v, cu_seqlens)
    from torch.nn.attention.varlen import varlen_attn

    # max_len bounds each piece's length (the row length: no wait for the GPU to find the
    # longest); the causal flag and GQA's are spelt differently across torch versions.
    return varlen_attn(q, k, v, cu_seqlens, cu_seqlens, max_len, max_len, **_varlen_flags(gqa))


@functools.cache
def _varlen_flags(gqa: bool) -> dict:
    from torch.nn.attention.varlen import varlen_attn

    params = inspect.signature(varlen_attn).parameters
    flags: dict = {"window_size": (-1, 0)} if "window_size" in params else {"is_causal": True}
    if gqa and "enable_gqa" in params:
        flags["enable_gqa"] = True
    return flags


def varlen_reference(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu_seqlens: torch.Tensor
) -> torch.Tensor:
    """Variable-length causal attention one piece at a time with SDPA (the CPU path): q
    (N, Hq, D), k and v (N, Hk, D) → (N, Hq, D)."""
    gqa = q.shape[1] != k.shape[1]
    bounds = cu_seqlens.tolist()
    pieces = []
    for start, end in itertools.pairwise(bounds):
        piece = (t[start:end].transpose(0, 1)[None] for t in (q, k, v))  # (1, H, n, D)
        y = F.scaled_dot_product_attention(*piece, is_causal=True, enable_gqa=gqa)
        pieces.append(y[0].transpose(0, 1))
    return torch.cat(pieces)
