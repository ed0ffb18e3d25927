"""QK-norm + RoPE: RMSNorm per attention head (its own weight of size head_dim, eps 1e-5),
then rotary position embedding (rotate-half, the Llama/NeoX convention, θ = 500,000).

Fused: for each token, one program normalises every query head and every key head and
rotates them, with the token's cos/sin read once for all of them; the backward pass undoes
the rotation and runs the norm's backward in the same pass, adding up both norm weights'
gradients in registers. Eager PyTorch spends about ten elementwise kernels on this, each
writing a full copy of q and k. GQA shapes are welcome (q and k may have different head
counts). Positions come as a tensor, so packed documents can restart them at 0.

Layout: q (B, T, Hq, D) and k (B, T, Hk, D), as a projection's output reshaped; positions
(B, T) or (T,). The cos/sin tables are computed in float64 by PyTorch and shared by the
kernel and the reference: they are tiny (tokens × D/2) and so are both paths' angles exact.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from heed.kernels._common import block_and_warps, num_programs, output, run_kernel

THETA = 500_000.0
EPS = 1e-5


@triton.jit
def _norm_rope_heads_forward(
    X, Y, W, RSTD, cos, sin, n_heads, half, eps,
    BLOCK_H: tl.constexpr, BLOCK_HALF: tl.constexpr,
):  # fmt: skip
    # One token's heads as a (heads, D/2) tile per half: the norm reduces over both halves of a
    # head, the rotation mixes element i of the first half with element i of the second.
    heads = tl.arange(0, BLOCK_H)[:, None]
    cols = tl.arange(0, BLOCK_HALF)[None, :]
    mask = (heads < n_heads) & (cols < half)
    offs = heads * (2 * half) + cols
    x1 = tl.load(X + offs, mask=mask, other=0.0).to(tl.float32)
    x2 = tl.load(X + offs + half, mask=mask, other=0.0).to(tl.float32)
    rstd = tl.rsqrt((tl.sum(x1 * x1, axis=1) + tl.sum(x2 * x2, axis=1)) / (2 * half) + eps)
    w1 = tl.load(W + cols, mask=cols < half, other=0.0).to(tl.float32)
    w2 = tl.load(W + half + cols, mask=cols < half, other=0.0).to(tl.float32)
    n1 = x1 * rstd[:, None] * w1
    n2 = x2 * rstd[:, None] * w2
    tl.store(Y + offs, (n1 * cos - n2 * sin).to(Y.dtype.element_ty), mask=mask)
    tl.store(Y + offs + half, (n2 * cos + n1 * sin).to(Y.dtype.element_ty), mask=mask)
    h = tl.arange(0, BLOCK_H)
    tl.store(RSTD + h, rstd, mask=h < n_heads)


@triton.jit
def _qk_norm_rope_forward_kernel(
    Q, K, QW, KW, COS, SIN, QY, KY, Q_RSTD, K_RSTD, n_q_heads, n_k_heads, half, eps,
    BLOCK_HQ: tl.constexpr, BLOCK_HK: tl.constexpr, BLOCK_HALF: tl.constexpr,
):  # fmt: skip
    token = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK_HALF)[None, :]
    cos = tl.load(COS + token * half + cols, mask=cols < half, other=0.0)
    sin = tl.load(SIN + token * half + cols, mask=cols < half, other=0.0)
    q_stride = n_q_heads * 2 * half
    k_stride = n_k_heads * 2 * half
    _norm_rope_heads_forward(
        Q + token * q_stride, QY + token * q_stride, QW, Q_RSTD + token * n_q_heads,
        cos, sin, n_q_heads, half, eps, BLOCK_HQ, BLOCK_HALF,
    )  # fmt: skip
    _norm_rope_heads_forward(
        K + token * k_stride, KY + token * k_stride, KW, K_RSTD + token * n_k_heads,
        cos, sin, n_k_heads, half, eps, BLOCK_HK, BLOCK_HALF,
    )  # fmt: skip


@triton.jit
def _norm_rope_heads_backward(
    DY, X, DX, W, RSTD, cos, sin, n_heads, half,
    BLOCK_H: tl.constexpr, BLOCK_HALF: tl.constexpr,
):  # fmt: skip
    heads = tl.arange(0, BLOCK_H)[:, None]
    cols = tl.arange(0, BLOCK_HALF)[None, :]
    mask = (heads < n_heads) & (cols < half)
    offs = heads * (2 * half) + cols
    dy1 = tl.load(DY + offs, mask=mask, other=0.0).to(tl.float32)
    dy2 = tl.load(DY + offs + half, mask=mask, other=0.0).to(tl.float32)
    # The rotation's transpose takes the gradient back to the normalised head.
    dn1 = dy1 * cos + dy2 * sin
    dn2 = dy2 * cos - dy1 * sin
    x1 = tl.load(X + offs, mask=mask, other=0.0).to(tl.float32)
    x2 = tl.load(X + offs + half, mask=mask, other=0.0).to(tl.float32)
    h = tl.arange(0, BLOCK_H)
    rstd = tl.load(RSTD + h, mask=h < n_heads, other=0.0)[:, None]
    w1 = tl.load(W + cols, mask=cols < half, other=0.0).to(tl.float32)
    w2 = tl.load(W + half + cols, mask=cols < half, other=0.0).to(tl.float32)
    # RMSNorm's backward per head, as in kernels/rmsnorm.py.
    g1 = dn1 * w1
    g2 = dn2 * w2
    dot = tl.sum(g1 * x1, axis=1) + tl.sum(g2 * x2, axis=1)
    c = rstd * rstd * rstd * dot[:, None] / (2 * half)
    tl.store(DX + offs, (rstd * g1 - c * x1).to(DX.dtype.element_ty), mask=mask)
    tl.store(DX + offs + half, (rstd * g2 - c * x2).to(DX.dtype.element_ty), mask=mask)
    return tl.sum(dn1 * x1 * rstd, axis=0), tl.sum(dn2 * x2 * rstd, axis=0)


@triton.jit
def _qk_norm_rope_backward_kernel(
    DQY, DKY, Q, K, QW, KW, COS, SIN, Q_RSTD, K_RSTD, DQ, DK, DQW_PARTIAL, DKW_PARTIAL,
    n_tokens, n_q_heads, n_k_heads, half, tokens_per_program,
    BLOCK_HQ: tl.constexpr, BLOCK_HK: tl.constexpr, BLOCK_HALF: tl.constexpr,
):  # fmt: skip
    # Each program walks a block of tokens, keeping the two norm weights' gradients in
    # registers, and writes one row of partial sums per weight at the end.
    pid = tl.program_id(0).to(tl.int64)
    start = pid * tokens_per_program
    end = tl.minimum(start + tokens_per_program, n_tokens)
    c = tl.arange(0, BLOCK_HALF)
    cols = c[None, :]
    q_stride = n_q_heads * 2 * half
    k_stride = n_k_heads * 2 * half
    dqw1 = tl.zeros([BLOCK_HALF], dtype=tl.float32)
    dqw2 = tl.zeros([BLOCK_HALF], dtype=tl.float32)
    dkw1 = tl.zeros([BLOCK_HALF], dtype=tl.float32)
    dkw2 = tl.zeros([BLOCK_HALF], dtype=tl.float32)
    for token in range(start, end):
        cos = tl.load(COS + token * half + cols, mask=cols < half, other=0.0)
        sin = tl.load(SIN + token * half + cols, mask=cols < half, other=0.0)
        a, b = _norm_rope_heads_backward(
            DQY + token * q_stride, Q + token * q_stride, DQ + token * q_stride, QW,
            Q_RSTD + token * n_q_heads, cos, sin, n_q_heads, half, BLOCK_HQ, BLOCK_HALF,
        )  # fmt: skip
        dqw1 += a
        dqw2 += b
        a, b = _norm_rope_heads_backward(
            DKY + token * k_stride, K + token * k_stride, DK + token * k_stride, KW,
            K_RSTD + token * n_k_heads, cos, sin, n_k_heads, half, BLOCK_HK, BLOCK_HALF,
        )  # fmt: skip
        dkw1 += a
        dkw2 += b
    row = pid * 2 * half
    tl.store(DQW_PARTIAL + row + c, dqw1, mask=c < half)
    tl.store(DQW_PARTIAL + row + half + c, dqw2, mask=c < half)
    tl.store(DKW_PARTIAL + row + c, dkw1, mask=c < half)
    tl.store(DKW_PARTIAL + row + half + c, dkw2, mask=c < half)


def rope_cos_sin(
    positions: torch.Tensor,
    head_dim: int,
    theta: float = THETA,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of position × θ^(−2i/D) for i < D/2, of shape positions.shape + (D/2,).

    Computed in float64 so that large positions keep their angle (an fp32 product at
    position 4096 is already off by about 2e-4 rad).
    """
    inv_freq = theta ** (
        -torch.arange(0, head_dim, 2, dtype=torch.float64, device=positions.device) / head_dim
    )
    angles = positions.to(torch.float64)[..., None] * inv_freq
    return angles.cos().to(dtype), angles.sin().to(dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def qk_norm_rope_reference(
    q: torch.Tensor,
    k: torch.Tensor,
    q_weight: torch.Tensor,
    k_weight: torch.Tensor,
    positions: torch.Tensor,
    theta: float = THETA,
    eps: float = EPS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain PyTorch, the Llama way: per-head RMSNorm in fp32, then x·cos + rotate_half(x)·sin."""
    batch, seq, _, head_dim = q.shape
    dtype = torch.promote_types(q.dtype, torch.float32)  # fp64 stays fp64
    cos, sin = rope_cos_sin(positions.expand(batch, seq), head_dim, theta, dtype)
    cos = torch.cat((cos, cos), dim=-1)[:, :, None, :]  # broadcast over heads
    sin = torch.cat((sin, sin), dim=-1)[:, :, None, :]

    def one(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        xf = x.to(dtype)
        n = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * weight.to(xf.dtype)
        return (n * cos + _rotate_half(n) * sin).to(x.dtype)

    return one(q, q_weight), one(k, k_weight)


def _blocks(n_q: int, n_k: int, head_dim: int) -> tuple[int, int, int, int]:
    block_hq, block_hk = triton.next_power_of_2(n_q), triton.next_power_of_2(n_k)
    block_half = triton.next_power_of_2(head_dim // 2)
    _, warps = block_and_warps(block_hq * block_half)
    return block_hq, block_hk, block_half, warps


# The kernels as PyTorch custom ops (torch.library): torch.compile keeps each as one node of
# its graph, with the shape function ("fake") and the autograd formula registered here.


@torch.library.custom_op("heed::qk_norm_rope", mutates_args=())
def qk_norm_rope_op(
    q: torch.Tensor, k: torch.Tensor, q_weight: torch.Tensor, k_weight: torch.Tensor,
    cos: torch.Tensor, sin: torch.Tensor, eps: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """(q', k', q's 1/rms per token and head, k's): q (B, T, Hq, D), k (B, T, Hk, D); cos and
    sin (B·T, D/2) fp32."""
    batch, seq, n_q, head_dim = q.shape
    n_k = k.shape[2]
    tokens, half = batch * seq, head_dim // 2
    q, k = q.contiguous(), k.contiguous()
    qy = output(tuple(q.shape), q.dtype, q.device)
    ky = output(tuple(k.shape), k.dtype, k.device)
    q_rstd = output((tokens, n_q), torch.float32, q.device)
    k_rstd = output((tokens, n_k), torch.float32, q.device)
    block_hq, block_hk, block_half, warps = _blocks(n_q, n_k, head_dim)
    _qk_norm_rope_forward_kernel[(tokens,)](
        q, k, q_weight, k_weight, cos, sin, qy, ky, q_rstd, k_rstd, n_q, n_k, half, eps,
        BLOCK_HQ=block_hq, BLOCK_HK=block_hk, BLOCK_HALF=block_half, num_warps=warps,
    )  # fmt: skip
    return qy, ky, q_rstd, k_rstd


@qk_norm_rope_op.register_fake
def _(q, k, q_weight, k_weight, cos, sin, eps):
    tokens = q.shape[0] * q.shape[1]
    return (
        torch.empty_like(q, memory_format=torch.contiguous_format),
        torch.empty_like(k, memory_format=torch.contiguous_format),
        q.new_empty((tokens, q.shape[2]), dtype=torch.float32),
        q.new_empty((tokens, k.shape[2]), dtype=torch.float32),
    )


@torch.library.custom_op("heed::qk_norm_rope_backward", mutates_args=())
def qk_norm_rope_backward_op(
    dqy: torch.Tensor, dky: torch.Tensor, q: torch.Tensor, k: torch.Tensor,
    q_weight: torch.Tensor, k_weight: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
    q_rstd: torch.Tensor, k_rstd: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """(dq, dk, d q_weight, d k_weight)."""
    batch, seq, n_q, head_dim = q.shape
    n_k = k.shape[2]
    tokens, half = batch * seq, head_dim // 2
    q, k, dqy, dky = q.contiguous(), k.contiguous(), dqy.contiguous(), dky.contiguous()
    dq = output(tuple(q.shape), q.dtype, q.device)
    dk = output(tuple(k.shape), k.dtype, k.device)
    per_program = triton.cdiv(tokens, num_programs(q.device, tokens))
    programs = triton.cdiv(tokens, per_program)
    dqw = output((programs, head_dim), torch.float32, q.device)
    dkw = output((programs, head_dim), torch.float32, q.device)
    block_hq, block_hk, block_half, warps = _blocks(n_q, n_k, head_dim)
    _qk_norm_rope_backward_kernel[(programs,)](
        dqy, dky, q, k, q_weight, k_weight, cos, sin, q_rstd, k_rstd, dq, dk, dqw, dkw,
        tokens, n_q, n_k, half, per_program,
        BLOCK_HQ=block_hq, BLOCK_HK=block_hk, BLOCK_HALF=block_half, num_warps=warps,
    )  # fmt: skip
    return dq, dk, dqw.sum(0).to(q_weight.dtype), dkw.sum(0).to(k_weight.dtype)


@qk_norm_rope_backward_op.register_fake
def _(dqy, dky, q, k, q_weight, k_weight, cos, sin, q_rstd, k_rstd):
    return (
        torch.empty_like(q, memory_format=torch.contiguous_format),
        torch.empty_like(k, memory_format=torch.contiguous_format),
        torch.empty_like(q_weight),
        torch.empty_like(k_weight),
    )


def _setup_context(ctx, inputs, output) -> None:
    q, k, q_weight, k_weight, cos, sin, _ = inputs
    ctx.save_for_backward(q, k, q_weight, k_weight, cos, sin, output[2], output[3])


def _backward(ctx, dqy, dky, _q_rstd, _k_rstd) -> tuple[torch.Tensor | None, ...]:
    q, k, q_weight, k_weight, cos, sin, q_rstd, k_rstd = ctx.saved_tensors
    dq, dk, dqw, dkw = qk_norm_rope_backward_op(
        dqy, dky, q, k, q_weight, k_weight, cos, sin, q_rstd, k_rstd
    )
    return dq, dk, dqw, dkw, None, None, None


qk_norm_rope_op.register_autograd(_backward, setup_context=_setup_context)


def qk_norm_rope(
    q: torch.Tensor,
    k: torch.Tensor,
    q_weight: torch.Tensor,
    k_weight: torch.Tensor,
    positions: torch.Tensor,
    theta: float = THETA,
    eps: float = EPS,
    *,
    use_kernel: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-head RMSNorm then RoPE on q (B, T, Hq, D) and k (B, T, Hk, D) at `positions`.

    positions: integer tensor (B, T) or (T,). use_kernel: None chooses by device, True
    insists on the kernel (CUDA, or the interpreter in tests), False takes the reference.
    """
    batch, seq, _, head_dim = q.shape
    if k.shape[:2] != (batch, seq) or k.shape[3] != head_dim or head_dim % 2:
        raise ValueError(f"q {tuple(q.shape)} and k {tuple(k.shape)}: need (B, T, H, even D)")
    if not run_kernel(_qk_norm_rope_forward_kernel, (q, k, q_weight, k_weight), use_kernel):
        return qk_norm_rope_reference(q, k, q_weight, k_weight, positions, theta, eps)
    positions = positions.to(q.device).expand(batch, seq).reshape(-1)
    cos, sin = rope_cos_sin(positions, head_dim, theta)
    qy, ky, _, _ = qk_norm_rope_op(q, k, q_weight, k_weight, cos, sin, eps)
    return qy, ky


class QKNormRoPE(torch.nn.Module):
    """The attention's QK-norm (a weight of ones for q and one for k) followed by RoPE."""

    def __init__(
        self,
        head_dim: int,
        theta: float = THETA,
        eps: float = EPS,
        *,
        use_kernel: bool | None = None,
    ) -> None:
        super().__init__()
        self.q_weight = torch.nn.Parameter(torch.ones(head_dim))
        self.k_weight = torch.nn.Parameter(torch.ones(head_dim))
        self.theta, self.eps, self.use_kernel = theta, eps, use_kernel

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return qk_norm_rope(
            q, k, self.q_weight, self.k_weight, positions, self.theta, self.eps,
            use_kernel=self.use_kernel,
        )  # fmt: skip
