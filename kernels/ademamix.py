"""AdEMAMix: one optimizer step for one parameter tensor, in place on θ, m1, m2 and v.

    m1 = β1·m1 + (1−β1)·g        (fast EMA of the gradient)
    m2 = β3·m2 + (1−β3)·g        (slow EMA, no bias correction)
    v  = β2·v  + (1−β2)·g²
    θ −= lr·[(m1/(1−β1ᵗ) + α·m2) / (√(v/(1−β2ᵗ)) + ε) + λ·θ]

Defaults β = (0.9, 0.999, 0.9999), α = 8, ε = 1e-8, λ = 0.1; the trainer warms α and β3 up
and passes them in each step; t counts steps from 1.

Fused: each element's gradient, three states and parameter are read once and written once
(the parameter and states) in one kernel. Eager PyTorch needs about a dozen kernels per tensor,
each reading and writing whole state tensors, so the step is bound by memory traffic that the
kernel cuts about fourfold. Arithmetic is in fp32 whatever the storage dtypes.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from heed.kernels._common import run_kernel

BETA1 = 0.9
BETA2 = 0.999
BETA3 = 0.9999
ALPHA = 8.0
EPS = 1e-8
WEIGHT_DECAY = 0.1
BLOCK = 1024


@triton.jit
def _ademamix_kernel(
    P, G, M1, M2, V, n,
    lr, alpha, beta1, beta2, beta3, eps, weight_decay, bias_correction1, bias_correction2,
    BLOCK_SIZE: tl.constexpr,
):  # fmt: skip
    offs = tl.program_id(0).to(tl.int64) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offs < n
    p = tl.load(P + offs, mask=mask, other=0.0).to(tl.float32)
    g = tl.load(G + offs, mask=mask, other=0.0).to(tl.float32)
    m1 = beta1 * tl.load(M1 + offs, mask=mask, other=0.0).to(tl.float32) + (1.0 - beta1) * g
    m2 = beta3 * tl.load(M2 + offs, mask=mask, other=0.0).to(tl.float32) + (1.0 - beta3) * g
    v = beta2 * tl.load(V + offs, mask=mask, other=0.0).to(tl.float32) + (1.0 - beta2) * g * g
    # sqrt_rn: the correctly rounded square root, as PyTorch's, not the approximate one.
    denom = tl.sqrt_rn(v / bias_correction2) + eps
    # Weight decay uses θ before this step's update, as in the formula.
    update = (m1 / bias_correction1 + alpha * m2) / denom + weight_decay * p
    tl.store(M1 + offs, m1.to(M1.dtype.element_ty), mask=mask)
    tl.store(M2 + offs, m2.to(M2.dtype.element_ty), mask=mask)
    tl.store(V + offs, v.to(V.dtype.element_ty), mask=mask)
    tl.store(P + offs, (p - lr * update).to(P.dtype.element_ty), mask=mask)


def ademamix_step_reference(
    param: torch.Tensor,
    grad: torch.Tensor,
    m1: torch.Tensor,
    m2: torch.Tensor,
    v: torch.Tensor,
    *,
    step: int,
    lr: float,
    alpha: float = ALPHA,
    beta3: float = BETA3,
    beta1: float = BETA1,
    beta2: float = BETA2,
    eps: float = EPS,
    weight_decay: float = WEIGHT_DECAY,
) -> None:
    """Plain PyTorch, in place on param, m1, m2 and v (states at least fp32)."""
    g = grad.to(m1.dtype)
    m1.mul_(beta1).add_(g, alpha=1 - beta1)
    m2.mul_(beta3).add_(g, alpha=1 - beta3)
    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    p = param.to(m1.dtype)  # the parameter itself when the dtypes agree
    denom = (v / (1 - beta2**step)).sqrt_().add_(eps)
    update = (m1 / (1 - beta1**step)).add_(m2, alpha=alpha).div_(denom).add_(p, alpha=weight_decay)
    param.copy_(p - lr * update)


def ademamix_step_kernel(
    param: torch.Tensor,
    grad: torch.Tensor,
    m1: torch.Tensor,
    m2: torch.Tensor,
    v: torch.Tensor,
    *,
    step: int,
    lr: float,
    alpha: float = ALPHA,
    beta3: float = BETA3,
    beta1: float = BETA1,
    beta2: float = BETA2,
    eps: float = EPS,
    weight_decay: float = WEIGHT_DECAY,
    block_size: int = BLOCK,
) -> None:
    """The Triton kernel, same arguments as the reference (contiguous tensors of equal size)."""
    tensors = (param, grad, m1, m2, v)
    if any(t.numel() != param.numel() or not t.is_contiguous() for t in tensors):
        raise ValueError("AdEMAMix kernel: param, grad and states must be contiguous, same size")
    if step < 1:
        raise ValueError(f"step counts from 1, got {step}")
    n = param.numel()
    # The bias corrections are computed once here, in float64, rather than per element.
    _ademamix_kernel[(triton.cdiv(n, block_size),)](
        param, grad, m1, m2, v, n,
        lr, alpha, beta1, beta2, beta3, eps, weight_decay, 1 - beta1**step, 1 - beta2**step,
        BLOCK_SIZE=block_size,
    )  # fmt: skip


def ademamix_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    m1: torch.Tensor,
    m2: torch.Tensor,
    v: torch.Tensor,
    *,
    step: int,
    lr: float,
    alpha: float = ALPHA,
    beta3: float = BETA3,
    beta1: float = BETA1,
    beta2: float = BETA2,
    eps: float = EPS,
    weight_decay: float = WEIGHT_DECAY,
    use_kernel: bool | None = None,
) -> None:
    """One AdEMAMix step in place: the Triton kernel on CUDA, the reference elsewhere.

    use_kernel: None chooses by device, True insists on the kernel (CUDA, or the interpreter
    in tests), False takes the reference.
    """
    step_fn = (
        ademamix_step_kernel
        if run_kernel(_ademamix_kernel, (param, grad, m1, m2, v), use_kernel)
        else ademamix_step_reference
    )
    step_fn(
        param, grad, m1, m2, v, step=step, lr=lr, alpha=alpha, beta3=beta3, beta1=beta1,
        beta2=beta2, eps=eps, weight_decay=weight_decay,
    )  # fmt: skip
