"""Optimisers and the learning-rate schedule.

* `AdEMAMix` (Pagliardini, Ablin & Grangier, 2024): Adam plus a slow EMA of the gradient
  (β3 = 0.9999) weighted by α, the paper's update. Each parameter's step is one call to
  `heed.kernels.ademamix.ademamix_step` (a fused Triton kernel on CUDA, the reference on the CPU).
  α and β3 are warmed up as in the paper, since a slow EMA of the first, large gradients
  would otherwise dominate the update: α linearly from 0, β3 from β1 to its final value
  linearly in *half-life* space (the half-life of an EMA with factor β is ln ½ / ln β steps).
* AdamW: torch's.
* `wsd_lr`: warmup–stable–decay: linear warmup, constant, then a 1 − √r cooldown to 0.1 × peak.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from heed.kernels.ademamix import ademamix_step


def alpha_at(step: int, alpha: float, warmup: int) -> float:
    """α after `step` steps (from 1): linear from 0 to α over `warmup` steps."""
    if warmup <= 0:
        return alpha
    return alpha * min(step / warmup, 1.0)


def beta3_at(step: int, beta3: float, beta_start: float, warmup: int) -> float:
    """β3 after `step` steps (from 1): from beta_start to beta3, linear in half-life.

    Half-life t(β) = ln ½ / ln β, so interpolating t linearly is interpolating 1 / ln β:
    β(s) = exp(ln β_s · ln β3 / ((1 − s/T) · ln β3 + (s/T) · ln β_s)), as in the paper's
    scheduler (the official code's closed form).
    """
    if warmup <= 0 or step >= warmup:
        return beta3
    a = step / warmup
    log_start, log_end = math.log(beta_start), math.log(beta3)
    return min(math.exp(log_start * log_end / ((1 - a) * log_end + a * log_start)), beta3)


def _local(t: torch.Tensor) -> torch.Tensor:
    """The local shard of a DTensor (FSDP2 parameters and states), or the tensor itself."""
    to_local = getattr(t, "to_local", None)
    return to_local() if to_local is not None else t


class AdEMAMix(torch.optim.Optimizer):
    """AdEMAMix with α and β3 warm-ups; one fused kernel call per parameter tensor.

    Per parameter: m1, m2, v in fp32 (states of the parameter's own shape, DTensors under
    FSDP2, stepped on their local shards). The step counter is per group so that all
    tensors share the bias corrections and the warm-ups.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float, float] = (0.9, 0.999, 0.9999),
        alpha: float = 8.0,
        eps: float = 1e-8,
        weight_decay: float = 0.1,
        warmup: int = 0,
        use_kernel: bool | None = None,
    ) -> None:
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError("lr, eps and weight_decay must be non-negative")
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "warmup": warmup,
            "step": 0,
        }
        super().__init__(params, defaults)
        self.use_kernel = use_kernel

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            group["step"] += 1
            t = group["step"]
            beta1, beta2, beta3_final = group["betas"]
            # The paper warms both up over the same number of steps (T_alpha = T_beta3).
            alpha = alpha_at(t, group["alpha"], group["warmup"])
            beta3 = beta3_at(t, beta3_final, beta1, group["warmup"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    for name in ("m1", "m2", "v"):
                        state[name] = torch.zeros_like(p, dtype=torch.float32)
                if _local(p).numel() == 0:
                    continue  # an FSDP2 rank whose shard of a small tensor is empty
                ademamix_step(
                    _local(p), _local(p.grad).contiguous(),
                    _local(state["m1"]), _local(state["m2"]), _local(state["v"]),
                    step=t, lr=group["lr"], alpha=alpha, beta3=beta3, beta1=beta1,
                    beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                    use_kernel=self.use_kernel,
                )  # fmt: skip
        return loss


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on matrices (projections, embeddings) only, not on norm weights or the
    xIELU scalars, which set scales rather than store features."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(
    model: torch.nn.Module,
    name: str,
    *,
    lr: float,
    betas: tuple[float, ...],
    alpha: float = 8.0,
    eps: float = 1e-8,
    weight_decay: float = 0.1,
    warmup: int = 0,
) -> torch.optim.Optimizer:
    """AdEMAMix (`name` "ademamix": betas β1, β2, β3; α and β3 warmed up over `warmup`
    steps) or torch's AdamW ("adamw": betas β1, β2)."""
    groups = param_groups(model, weight_decay)
    if name == "ademamix":
        b1, b2, b3 = betas
        return AdEMAMix(groups, lr=lr, betas=(b1, b2, b3), alpha=alpha, eps=eps, warmup=warmup)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=(betas[0], betas[1]), eps=eps)
    raise ValueError(f"optimizer {name!r}: choose ademamix or adamw")


def wsd_lr(
    step: int,
    peak: float,
    total: int,
    warmup: int,
    cooldown: int,
    final_fraction: float = 0.1,
) -> float:
    """The learning rate for step `step` (from 0) of `total`: warmup–stable–decay.

    Linear warmup to `peak` over `warmup` steps (step 0 already gets peak / warmup), constant,
    then over the last `cooldown` steps lr = peak · (f + (1 − f)(1 − √r)) with r rising to 1
    at the last step, so training ends at f · peak (f = 0.1).
    """
    if step < warmup:
        return peak * (step + 1) / warmup
    start = total - cooldown
    if cooldown <= 0 or step < start:
        return peak
    r = min((step - start + 1) / cooldown, 1.0)
    return peak * (final_fraction + (1 - final_fraction) * (1 - math.sqrt(r)))
