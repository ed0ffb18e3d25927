"""xIELU, the MLP's activation:

    x > 0:  αp·x² + β·x
    x ≤ 0:  αn·(expm1(min(x, ε)) − x) + β·x

with β = 0.5, ε = −1e-6, αp = softplus(ap), αn = β + softplus(an), and ap, an learnable
scalars (one pair per layer) starting where αp = αn = 0.8.

Fused: the forward is one elementwise pass (eager PyTorch runs about a dozen kernels and keeps
both branches of the `where` in memory). The backward computes the input gradient and, in
the same pass, each block's partial sums of the gradients of αp and αn, which PyTorch then
adds up (one number per block) and carries through the softplus by ordinary autograd.

Triton has no expm1, and exp(z) − 1 loses all relative precision for the small |z| where
the negative branch matters most (expm1(z) − x is a difference of nearly equal terms), so
`_expm1` uses a short Taylor series near zero.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

from heed.kernels._common import output, run_kernel

BETA = 0.5
EPS = -1e-6
ALPHA_INIT = 0.8
# Elements per program: on an H200, 2,048 and 4,096 ran within noise of each other, 1,024 and
# 8,192 slower (benchmarks/RESULTS.md).
BLOCK = 4096


@triton.jit
def _expm1(z):
    # exp(z) − 1 for z ≤ 0. For |z| < 0.5 the degree-8 Taylor polynomial (Horner form) is
    # exact to about 1e-8 relative; below that, exp(z) − 1 has no harmful cancellation.
    p = 1.0 + z / 8.0
    p = 1.0 + z / 7.0 * p
    p = 1.0 + z / 6.0 * p
    p = 1.0 + z / 5.0 * p
    p = 1.0 + z / 4.0 * p
    p = 1.0 + z / 3.0 * p
    p = 1.0 + z / 2.0 * p
    return tl.where(z > -0.5, z * p, tl.exp(z) - 1.0)


@triton.jit
def _xielu_forward_kernel(
    X, Y, ALPHA_P, ALPHA_N, n, beta, eps, BLOCK_SIZE: tl.constexpr
):  # fmt: skip
    offs = tl.program_id(0).to(tl.int64) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offs < n
    x = tl.load(X + offs, mask=mask, other=0.0).to(tl.float32)
    # The scalars are read from memory, not passed as numbers, so that a training step never
    # waits on the GPU to learn their values.
    alpha_p = tl.load(ALPHA_P)
    alpha_n = tl.load(ALPHA_N)
    negative = alpha_n * (_expm1(tl.minimum(x, eps)) - x)
    y = tl.where(x > 0, alpha_p * x * x, negative) + beta * x
    tl.store(Y + offs, y.to(Y.dtype.element_ty), mask=mask)


@triton.jit
def _xielu_backward_kernel(
    DY, X, DX, ALPHA_P, ALPHA_N, PARTIAL, n, beta, eps, BLOCK_SIZE: tl.constexpr
):  # fmt: skip
    pid = tl.program_id(0).to(tl.int64)
    offs = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offs < n
    x = tl.load(X + offs, mask=mask, other=0.0).to(tl.float32)
    dy = tl.load(DY + offs, mask=mask, other=0.0).to(tl.float32)
    alpha_p = tl.load(ALPHA_P)
    alpha_n = tl.load(ALPHA_N)
    z = tl.minimum(x, eps)
    # d/dx expm1(min(x, ε)) is exp(x) up to ε and 0 above it (min passes the gradient at the tie,
    # as torch.clamp does).
    dexp = tl.where(x <= eps, tl.exp(z), 0.0)
    dydx = tl.where(x > 0, 2.0 * alpha_p * x, alpha_n * (dexp - 1.0)) + beta
    tl.store(DX + offs, (dy * dydx).to(DX.dtype.element_ty), mask=mask)
    # Masked lanes load x = dy = 0 and so add nothing to either sum.
    d_alpha_p = tl.sum(tl.where(x > 0, dy * x * x, 0.0), axis=0)
    d_alpha_n = tl.sum(tl.where(x > 0, 0.0, dy * (_expm1(z) - x)), axis=0)
    tl.store(PARTIAL + pid * 2, d_alpha_p)
    tl.store(PARTIAL + pid * 2 + 1, d_alpha_n)


def softplus_inverse(y: float) -> float:
    """The a with softplus(a) = y (y > 0): a = y + log(−expm1(−y))."""
    return y + math.log(-math.expm1(-y))


def xielu_alphas(
    ap: torch.Tensor, an: torch.Tensor, beta: float = BETA
) -> tuple[torch.Tensor, torch.Tensor]:
    """αp = softplus(ap), αn = β + softplus(an), as differentiable tensors."""
    return F.softplus(ap), beta + F.softplus(an)


def xielu_reference(
    x: torch.Tensor, ap: torch.Tensor, an: torch.Tensor, beta: float = BETA, eps: float = EPS
) -> torch.Tensor:
    """Plain PyTorch, in fp32, cast back to x's dtype."""
    alpha_p, alpha_n = xielu_alphas(ap, an, beta)
    xf = x.to(torch.promote_types(x.dtype, torch.float32))  # fp64 stays fp64
    positive = alpha_p * xf * xf + beta * xf
    negative = alpha_n * (torch.expm1(torch.clamp(xf, max=eps)) - xf) + beta * xf
    return torch.where(xf > 0, positive, negative).to(x.dtype)


# The kernels as PyTorch custom ops (torch.library): torch.compile keeps each as one node of
# its graph, with the shape function ("fake") and the autograd formula registered here. αp and
# αn come in already softplus-ed (1-element tensors); their gradients go back through the
# softplus by ordinary autograd.


@torch.library.custom_op("heed::xielu", mutates_args=())
def xielu_op(
    x: torch.Tensor, alpha_p: torch.Tensor, alpha_n: torch.Tensor, beta: float, eps: float,
    block_size: int,
) -> torch.Tensor:  # fmt: skip
    xc = x.contiguous()
    y = output(tuple(x.shape), x.dtype, x.device)
    n = xc.numel()
    _xielu_forward_kernel[(triton.cdiv(n, block_size),)](
        xc, y, alpha_p.float().reshape(1), alpha_n.float().reshape(1), n, beta, eps,
        BLOCK_SIZE=block_size,
    )  # fmt: skip
    return y


@xielu_op.register_fake
def _(x, alpha_p, alpha_n, beta, eps, block_size):
    return torch.empty_like(x, memory_format=torch.contiguous_format)


@torch.library.custom_op("heed::xielu_backward", mutates_args=())
def xielu_backward_op(
    dy: torch.Tensor, x: torch.Tensor, alpha_p: torch.Tensor, alpha_n: torch.Tensor,
    beta: float, eps: float, block_size: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """(dx, dαp, dαn), the last two shaped and typed as αp and αn."""
    xc = x.contiguous()
    n = xc.numel()
    blocks = triton.cdiv(n, block_size)
    dx = output(tuple(x.shape), x.dtype, x.device)
    partial = output((blocks, 2), torch.float32, x.device)
    _xielu_backward_kernel[(blocks,)](
        dy.contiguous(), xc, dx, alpha_p.float().reshape(1), alpha_n.float().reshape(1),
        partial, n, beta, eps, BLOCK_SIZE=block_size,
    )  # fmt: skip
    # Two separate sums: a custom op's outputs may not share storage.
    d_alpha_p = partial[:, 0].sum().reshape(alpha_p.shape).to(alpha_p.dtype)
    d_alpha_n = partial[:, 1].sum().reshape(alpha_n.shape).to(alpha_n.dtype)
    return dx, d_alpha_p, d_alpha_n


@xielu_backward_op.register_fake
def _(dy, x, alpha_p, alpha_n, beta, eps, block_size):
    return (
        torch.empty_like(x, memory_format=torch.contiguous_format),
        torch.empty_like(alpha_p),
        torch.empty_like(alpha_n),
    )


def _setup_context(ctx, inputs, output) -> None:
    x, alpha_p, alpha_n, beta, eps, block_size = inputs
    ctx.save_for_backward(x, alpha_p, alpha_n)
    ctx.beta, ctx.eps, ctx.block = beta, eps, block_size


def _backward(ctx, dy: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    x, alpha_p, alpha_n = ctx.saved_tensors
    dx, d_alpha_p, d_alpha_n = xielu_backward_op(
        dy, x, alpha_p, alpha_n, ctx.beta, ctx.eps, ctx.block
    )
    return dx, d_alpha_p, d_alpha_n, None, None, None


xielu_op.register_autograd(_backward, setup_context=_setup_context)


def xielu(
    x: torch.Tensor,
    ap: torch.Tensor,
    an: torch.Tensor,
    beta: float = BETA,
    eps: float = EPS,
    *,
    use_kernel: bool | None = None,
    block_size: int = BLOCK,
) -> torch.Tensor:
    """xIELU of x with the raw scalars ap, an: the Triton kernel on CUDA, the reference elsewhere.

    use_kernel: None chooses by device, True insists on the kernel (CUDA, or the interpreter
    in tests), False takes the reference. block_size: elements per program (a power of two).
    """
    if not run_kernel(_xielu_forward_kernel, (x, ap, an), use_kernel):
        return xielu_reference(x, ap, an, beta, eps)
    alpha_p, alpha_n = xielu_alphas(ap, an, beta)
    return xielu_op(x, alpha_p, alpha_n, beta, eps, block_size)


class XIELU(torch.nn.Module):
    """xIELU with its two learnable scalars, initialised so that αp = αn = 0.8. Each is kept
    as a 1-element vector, not a 0-dim tensor: FSDP2's fully_shard refuses scalar parameters."""

    def __init__(
        self,
        alpha_p_init: float = ALPHA_INIT,
        alpha_n_init: float = ALPHA_INIT,
        beta: float = BETA,
        eps: float = EPS,
        *,
        use_kernel: bool | None = None,
    ) -> None:
        super().__init__()
        self.ap = torch.nn.Parameter(torch.full((1,), softplus_inverse(alpha_p_init)))
        self.an = torch.nn.Parameter(torch.full((1,), softplus_inverse(alpha_n_init - beta)))
        self.beta, self.eps, self.use_kernel = beta, eps, use_kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return xielu(x, self.ap, self.an, self.beta, self.eps, use_kernel=self.use_kernel)
