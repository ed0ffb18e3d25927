"""The model, in one file (nanoGPT style): the Apertus architecture (its technical report, 2025).

A decoder-only transformer: token embedding → L blocks → RMSNorm → output projection (untied
from the embedding). Each block is pre-norm:

    x = x + Wo · attention(QKNorm+RoPE(Wq · n1(x)), QKNorm+RoPE(Wk · n1(x)), Wv · n1(x))
    x = x + Wdown · xIELU(Wup · n2(x))

RMSNorm eps 1e-5; QK-norm is an RMSNorm per head applied before RoPE (θ = 500,000); grouped-
query attention (kv_heads ≤ heads); no biases; the MLP is not gated. Every op with a Triton
kernel goes through `kernels/`, which runs the kernel on CUDA and the PyTorch reference on
the CPU, so this one file trains on both. The loss is the fused linear cross-entropy with the
loader's per-token weights (Goldfish mask, padding, document starts), i.e. the mean over the
targets that are kept; the N × V logits are never materialised on the GPU.

Attention sees only earlier tokens of the same document (training/attention.py): the loader's
segment ids become FlexAttention's block mask on the GPU and a dense block-diagonal causal mask
on the CPU, and positions restart at each document, so packing many documents into one row is
the same as running each alone.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch
from torch import nn

from heed.kernels.cross_entropy import fused_linear_cross_entropy
from heed.kernels.rmsnorm import RMSNorm
from heed.kernels.rope import QKNormRoPE
from heed.kernels.xielu import ALPHA_INIT, BETA, XIELU, softplus_inverse
from heed.training.attention import DocumentMask, document_attention, document_mask, resolve_backend

VOCAB = 131_072  # Mistral-Nemo tekken, the tokenizer Apertus uses


@dataclass(frozen=True)
class ModelConfig:
    """The shape of the model; `SIZES` holds the named ones."""

    vocab_size: int = VOCAB
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    head_dim: int = 16
    mlp: int = 256
    rope_theta: float = 500_000.0
    norm_eps: float = 1e-5
    init_std: float = 0.02

    def __post_init__(self) -> None:
        if self.heads % self.kv_heads:
            raise ValueError(f"heads ({self.heads}) must be a multiple of kv_heads")
        if self.head_dim % 2:
            raise ValueError(f"head_dim ({self.head_dim}) must be even for RoPE")

    @classmethod
    def named(cls, size: str, **overrides: Any) -> ModelConfig:
        """A named size (`SIZES`), with any field overridden."""
        if size not in SIZES:
            raise ValueError(f"model size {size!r}: choose one of {', '.join(SIZES)}")
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown model settings {sorted(unknown)}; known: {sorted(known)}")
        return replace(SIZES[size], **overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SIZES: dict[str, ModelConfig] = {
    # CPU-sized: 16.9M, of which the two 131k-token embeddings are 16.8M and the blocks 0.1M
    # (with this vocabulary "a few M" cannot have a width above 16). Its cost is the 131k-way
    # softmax: a step of 512 tokens takes about 0.8 s on two cores (hidden 32 was hardly
    # faster and learnt less per step).
    "tiny": ModelConfig(hidden=64, layers=2, heads=4, kv_heads=2, head_dim=16, mlp=256),
    # GPT-3 Small's shape (768 wide, 12 layers, 12 heads), GQA 3:1 and a 4× MLP:
    # 75M in the blocks + 2 × 101M embeddings.
    "125m": ModelConfig(hidden=768, layers=12, heads=12, kv_heads=4, head_dim=64, mlp=3072),
    # Llama-3.2-1B's attention shape (2048 wide, 16 layers, 32 q / 8 kv heads of 64) with a
    # non-gated MLP of 4× width: 0.70B in the blocks + 2 × 268M embeddings = 1.24B.
    "1b": ModelConfig(hidden=2048, layers=16, heads=32, kv_heads=8, head_dim=64, mlp=8192),
    # Apertus-8B: hidden 4096, 32 layers, 32 q / 8 kv heads of 128, vocabulary 131,072. MLP
    # width 21,504 is an assumption taken from Apertus-8B's published config.json
    # (intermediate_size 21504): with a non-gated up/down MLP (two matrices, not Llama's
    # three) that width gives the same MLP parameter count as a gated MLP of 14,336 (Llama-3-
    # 8B's): 6.98B in the blocks + 2 × 537M embeddings = 8.05B. Not checked against the
    # technical report's table here (no network); the brief gives the same width.
    "8b": ModelConfig(hidden=4096, layers=32, heads=32, kv_heads=8, head_dim=128, mlp=21_504),
}


class Attention(nn.Module):
    """GQA self-attention with QK-norm and RoPE, masked to each token's own document."""

    def __init__(self, config: ModelConfig, use_kernels: bool | None = None) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = config.heads, config.kv_heads, config.head_dim
        self.wq = nn.Linear(config.hidden, config.heads * config.head_dim, bias=False)
        self.wk = nn.Linear(config.hidden, config.kv_heads * config.head_dim, bias=False)
        self.wv = nn.Linear(config.hidden, config.kv_heads * config.head_dim, bias=False)
        self.wo = nn.Linear(config.heads * config.head_dim, config.hidden, bias=False)
        self.qk_norm_rope = QKNormRoPE(
            config.head_dim, config.rope_theta, config.norm_eps, use_kernel=use_kernels
        )

    def forward(self, x: torch.Tensor, positions: torch.Tensor, mask: DocumentMask) -> torch.Tensor:
        batch, seq, _ = x.shape
        q = self.wq(x).view(batch, seq, self.heads, self.head_dim)
        k = self.wk(x).view(batch, seq, self.kv_heads, self.head_dim)
        v = self.wv(x).view(batch, seq, self.kv_heads, self.head_dim)
        q, k = self.qk_norm_rope(q, k, positions)  # (B, T, H, D), norm then rotation
        y = document_attention(q, k, v, mask)  # each kv head serves heads/kv_heads q heads
        return self.wo(y.reshape(batch, seq, self.heads * self.head_dim))


class MLP(nn.Module):
    """Non-gated: up → xIELU (two learnable scalars per layer) → down."""

    def __init__(self, config: ModelConfig, use_kernels: bool | None = None) -> None:
        super().__init__()
        self.up = nn.Linear(config.hidden, config.mlp, bias=False)
        self.act = XIELU(use_kernel=use_kernels)
        self.down = nn.Linear(config.mlp, config.hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.act(self.up(x)))


class Block(nn.Module):
    def __init__(self, config: ModelConfig, use_kernels: bool | None = None) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(config.hidden, config.norm_eps, use_kernel=use_kernels)
        self.attn = Attention(config, use_kernels)
        self.mlp_norm = RMSNorm(config.hidden, config.norm_eps, use_kernel=use_kernels)
        self.mlp = MLP(config, use_kernels)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, mask: DocumentMask) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), positions, mask)
        return x + self.mlp(self.mlp_norm(x))


class Transformer(nn.Module):
    """The whole model. `forward` returns the weighted mean loss when given targets.

    attention: the backend that keeps documents apart (training/attention.py; "auto": flex
    on CUDA, dense elsewhere). use_kernels: None runs the Triton kernels on CUDA and their
    references elsewhere; True insists on the kernels (the interpreter in tests).
    """

    def __init__(
        self,
        config: ModelConfig,
        seed: int = 0,
        *,
        attention: str = "auto",
        use_kernels: bool | None = None,
    ) -> None:
        super().__init__()
        resolve_backend(attention, torch.device("cpu"))  # an unknown name fails here
        self.config, self.attention, self.use_kernels = config, attention, use_kernels
        self.embed = nn.Embedding(config.vocab_size, config.hidden)
        self.blocks = nn.ModuleList(Block(config, use_kernels) for _ in range(config.layers))
        self.norm = RMSNorm(config.hidden, config.norm_eps, use_kernel=use_kernels)
        self.lm_head = nn.Linear(config.hidden, config.vocab_size, bias=False)
        self.reset_parameters(seed)

    def reset_parameters(self, seed: int = 0) -> None:
        """GPT-2's initialisation: N(0, 0.02) for matrices, the residual branches' output
        projections scaled by 1/√(2L) so that the residual stream's variance does not grow
        with depth; norm weights 1, xIELU's scalars at their 0.8 start.

        Each tensor is drawn whole on the CPU from a generator seeded by (seed, its index),
        then copied in (only the local shard under FSDP2): the same seed gives the same model
        whatever the device, the number of ranks or the sharding, and a model built on the
        meta device can be materialised and initialised after sharding.
        """
        std = self.config.init_std
        residual_out = ("wo.weight", "down.weight")
        for index, (name, p) in enumerate(self.named_parameters()):
            if p.is_meta:
                continue
            if p.dim() >= 2:
                scale = 1 / math.sqrt(2 * self.config.layers) if name.endswith(residual_out) else 1
                generator = torch.Generator().manual_seed(seed * 1_000_003 + index)
                full = torch.empty(p.shape).normal_(0.0, std * scale, generator=generator)
            elif name.endswith(".ap"):
                full = torch.full(p.shape, softplus_inverse(ALPHA_INIT))
            elif name.endswith(".an"):
                full = torch.full(p.shape, softplus_inverse(ALPHA_INIT - BETA))
            else:  # RMSNorm and QK-norm weights
                full = torch.ones(p.shape)
            _copy_full(p, full)

    def num_params(self, *, embedding: bool = True) -> int:
        """Parameter count; embedding=False leaves out the input embedding (a lookup, no
        matmul), which is the N of the 6·N flops-per-token estimate."""
        n = sum(p.numel() for p in self.parameters())
        return n if embedding else n - self.embed.weight.numel()

    def hidden_states(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor,
        segments: torch.Tensor,
        attention: str | None = None,
    ) -> torch.Tensor:
        """The final normalised hidden states (B, T, H); `attention` overrides the model's
        backend for this call."""
        # Built once per batch, shared by every layer.
        mask = document_mask(segments, attention or self.attention)
        x = self.embed(input_ids)
        for block in self.blocks:
            x = block(x, positions, mask)
        return self.norm(x)

    def forward(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor,
        segments: torch.Tensor,
        targets: torch.Tensor | None = None,
        weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """With targets: sum(w · CE) / sum(w) over the batch (0 if nothing is kept).
        Without: the logits of the last position of each row (B, V), for decoding, with the
        dense mask (decoding grows the sequence by one each step, which would compile flex's
        kernel anew each time)."""
        if targets is None:
            h = self.hidden_states(input_ids, positions, segments, attention="dense")
            return self.lm_head(h[:, -1])
        h = self.hidden_states(input_ids, positions, segments)
        # The fused loss runs outside autocast on explicit dtypes: under bf16 autocast the
        # hidden states and the head meet in bf16 (the kernel accumulates in fp32), and the
        # head's fp32 master weight gets its gradient through the cast.
        dtype = torch.get_autocast_dtype("cuda") if torch.is_autocast_enabled("cuda") else None
        weight = self.lm_head.weight
        with torch.autocast(h.device.type, enabled=False):
            if dtype is not None:
                h, weight = h.to(dtype), weight.to(dtype)
            return fused_linear_cross_entropy(
                h, weight, targets, weights, use_kernel=self.use_kernels
            )


@torch.no_grad()
def _copy_full(param: torch.Tensor, full: torch.Tensor) -> None:
    """Copy a whole tensor into a parameter, or into its local shard when it is a DTensor."""
    mesh = getattr(param, "device_mesh", None)
    if mesh is not None:
        from torch.distributed.tensor import distribute_tensor

        full = distribute_tensor(full.to(param.device, param.dtype), mesh, param.placements)
        param.to_local().copy_(full.to_local())
    else:
        param.copy_(full)


@torch.no_grad()
def greedy_continue(model: Transformer, prompts: list[torch.Tensor], steps: int) -> torch.Tensor:
    """Greedy-decode `steps` tokens after each prompt; returns (len(prompts), steps).

    Prompts of different lengths share a batch left-padded: the padding is a segment of its
    own and each prompt's positions start at 0, so a prompt decodes as it would alone. No KV
    cache: each step reruns the whole (short) sequence, which is simple and fast enough for
    the memorisation check's small models and 50-token continuations.
    """
    device = next(model.parameters()).device
    longest = max(len(p) for p in prompts)
    rows = len(prompts)
    ids = torch.zeros(rows, longest, dtype=torch.long)
    segments = torch.zeros(rows, longest, dtype=torch.long)
    positions = torch.zeros(rows, longest, dtype=torch.long)
    for i, prompt in enumerate(prompts):
        pad = longest - len(prompt)
        ids[i, pad:] = prompt
        segments[i, pad:] = 1
        positions[i, pad:] = torch.arange(len(prompt))
    ids, segments, positions = ids.to(device), segments.to(device), positions.to(device)
    out = []
    for _ in range(steps):
        logits = model(ids, positions, segments)
        nxt = logits.argmax(-1, keepdim=True)
        out.append(nxt)
        ids = torch.cat([ids, nxt], dim=1)
        segments = torch.cat([segments, segments[:, -1:]], dim=1)
        positions = torch.cat([positions, positions[:, -1:] + 1], dim=1)
    return torch.cat(out, dim=1).cpu()
