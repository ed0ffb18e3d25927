"""Fused linear cross-entropy: hidden states (N × H) times the output embedding (V × H) to a
weighted mean loss and its gradients, without ever holding the N × V logits.

At the 8B shapes (V = 131,072, N = 8 × 4,096) the logits alone take 8.6 GB in bf16 and eager
PyTorch keeps an fp32 copy and its gradient besides. Here, as in Liger-Kernel's
fused_linear_cross_entropy, the rows go through in chunks: a chunk's logits come from a torch
matmul, one Triton program per row computes the row's loss with an online softmax and
overwrites the row with d loss / d logits, and two more matmuls turn that into the chunk's
share of the hidden and weight gradients. The gradients are computed during the forward pass
(the backward pass only scales them by the incoming gradient), so the chunk buffer is reused
and memory stays at one chunk of logits plus the gradients themselves.

Each token has a weight (the Goldfish mask, padding, document ends; or any non-negative
weight), targets equal to ignore_index (−100) count as weight 0, and the loss is
sum(weight · loss) / sum(weight). A token of weight 0 gets a gradient of exactly zero: its
row of the chunk is written with zeros, not with a softmax times zero.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

from heed.kernels._common import block_and_warps, output, run_kernel

IGNORE_INDEX = -100


@triton.jit
def _cross_entropy_kernel(
    LOGITS, stride, TARGET, WEIGHT, LOSS, TOTAL, n_cols, BLOCK_SIZE: tl.constexpr
):  # fmt: skip
    # One program per row of the chunk. On return the row holds d loss / d logits.
    row = tl.program_id(0).to(tl.int64)
    logits = LOGITS + row * stride
    weight = tl.load(WEIGHT + row)
    if weight == 0.0:
        # Dropped token: exactly zero gradient and no loss, whatever its target.
        for start in range(0, n_cols, BLOCK_SIZE):
            cols = start + tl.arange(0, BLOCK_SIZE)
            zeros = tl.zeros([BLOCK_SIZE], dtype=LOGITS.dtype.element_ty)
            tl.store(logits + cols, zeros, mask=cols < n_cols)
        tl.store(LOSS + row, 0.0)
        return
    scale = weight / tl.load(TOTAL)
    target = tl.load(TARGET + row)
    # Online softmax (running max m and running sum d of exp(x − m)) in one pass, so a row of
    # any width needs one block of registers.
    m = float("-inf")
    d = 0.0
    for start in range(0, n_cols, BLOCK_SIZE):
        cols = start + tl.arange(0, BLOCK_SIZE)
        x = tl.load(logits + cols, mask=cols < n_cols, other=float("-inf")).to(tl.float32)
        m_new = tl.maximum(m, tl.max(x, axis=0))
        d = d * tl.exp(m - m_new) + tl.sum(tl.exp(x - m_new), axis=0)
        m = m_new
    x_target = tl.load(logits + target).to(tl.float32)
    tl.store(LOSS + row, (m + tl.log(d) - x_target) * scale)
    # Second pass: softmax − one-hot, times this token's share of the mean.
    for start in range(0, n_cols, BLOCK_SIZE):
        cols = start + tl.arange(0, BLOCK_SIZE)
        mask = cols < n_cols
        x = tl.load(logits + cols, mask=mask, other=float("-inf")).to(tl.float32)
        grad = tl.exp(x - m) / d * scale - tl.where(cols == target, scale, 0.0)
        tl.store(logits + cols, grad.to(LOGITS.dtype.element_ty), mask=mask)


def _token_weights(
    target: torch.Tensor, token_weight: torch.Tensor | None, ignore_index: int, dtype: torch.dtype
) -> torch.Tensor:
    """Per-token weights (ones when none are given) with ignore_index targets set to 0."""
    if token_weight is None:
        weights = torch.ones(target.shape, dtype=dtype, device=target.device)
    else:
        weights = token_weight.to(dtype)
    return weights.masked_fill(target == ignore_index, 0)


def fused_linear_cross_entropy_reference(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    token_weight: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> torch.Tensor:
    """Plain PyTorch: the full logits in hidden's dtype, the loss in (at least) fp32."""
    dtype = torch.promote_types(hidden.dtype, torch.float32)  # fp64 stays fp64
    logits = (hidden.reshape(-1, hidden.shape[-1]) @ weight.T).to(dtype)
    target = target.reshape(-1)
    losses = F.cross_entropy(logits, target, ignore_index=ignore_index, reduction="none")
    weights = _token_weights(
        target, None if token_weight is None else token_weight.reshape(-1), ignore_index, dtype
    )
    # With every token dropped the sum is 0/tiny = 0, not NaN (the kernel agrees).
    return (losses * weights).sum() / weights.sum().clamp(min=torch.finfo(dtype).tiny)


# Whether a bf16/fp16 chunk's weight gradient is added to the fp32 accumulator by the GEMM
# itself (cuBLAS with an fp32 output, torch's `out_dtype`), rather than through a product in
# the model's dtype and a separate add, which reads and writes the whole V × H accumulator once
# more per chunk. benchmarks/kernels.py --sweep measures both.
GEMM_ACCUMULATES = True
# torch's addmm takes out_dtype from 2.8 on (CUDA only).
_ADDMM_OUT_DTYPE = "dtype_out" in torch.ops.aten.addmm.overloads()


def _accumulate(acc: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> None:
    """acc += a @ b, with acc in fp32 and a, b in the model's dtype."""
    if a.dtype == acc.dtype:
        acc.addmm_(a, b)
    elif GEMM_ACCUMULATES and _ADDMM_OUT_DTYPE and acc.is_cuda:
        torch.addmm(acc, a, b, out_dtype=acc.dtype, out=acc)
    else:
        acc += a @ b


def default_chunk_size(n: int, hidden: int, vocab: int) -> int:
    """A chunk of logits about four times as large as the hidden states (Liger's rule is once).

    Each chunk reads and writes the whole fp32 weight-gradient accumulator (V × H), so fewer,
    larger chunks save that traffic: at the 8B shapes 4,096 rows (1 GiB of bf16 logits) ran
    8% faster than Liger's 1,024 on an H200 for 0.75 GiB more memory (RESULTS.md).
    """
    return 4 * triton.next_power_of_2(triton.cdiv(n, triton.cdiv(vocab, hidden)))


# The forward pass as a PyTorch custom op (torch.library), with its shape function ("fake")
# and autograd formula registered beside it: torch.compile keeps it as one node of its graph.
# It returns the loss and the gradients it computed on the way (empty where not wanted);
# the backward pass only scales those.


@torch.library.custom_op("heed::fused_linear_cross_entropy", mutates_args=())
def fused_linear_cross_entropy_op(
    hidden: torch.Tensor, weight: torch.Tensor, target: torch.Tensor,
    token_weight: torch.Tensor | None, ignore_index: int, chunk_size: int | None,
    block_size: int | None, need_hidden: bool, need_weight: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """(loss, d loss / d hidden, d loss / d weight); a gradient not needed is an empty tensor."""
    h = hidden.reshape(-1, hidden.shape[-1])
    n, width = h.shape
    vocab = weight.shape[0]
    target = target.reshape(-1)
    weights = _token_weights(
        target, None if token_weight is None else token_weight.reshape(-1), ignore_index,
        torch.float32,
    ).contiguous()  # fmt: skip
    # A tensor, not a number: reading it on the host would wait for the GPU.
    total = weights.sum().reshape(1)
    chunk = chunk_size or default_chunk_size(n, width, vocab)
    block, warps = block_and_warps(vocab, cap=32768)
    if block_size is not None:
        block = block_size
    grad_hidden = output((n, width), hidden.dtype, hidden.device) if need_hidden else None
    # Accumulated over chunks in fp32: bf16 sums of 30-odd chunks would lose digits.
    grad_weight = (
        torch.zeros((vocab, width), dtype=torch.float32, device=weight.device)
        if need_weight
        else None
    )
    row_loss = output((n,), torch.float32, hidden.device)
    for start in range(0, n, chunk):
        end = min(start + chunk, n)
        h_chunk = h[start:end]
        logits = h_chunk @ weight.T  # (rows, V) in the model's dtype
        _cross_entropy_kernel[(end - start,)](
            logits, logits.stride(0), target[start:end], weights[start:end],
            row_loss[start:end], total, vocab, BLOCK_SIZE=block, num_warps=warps,
        )  # fmt: skip
        # `logits` now holds d loss / d logits for the chunk.
        if grad_hidden is not None:
            torch.mm(logits, weight, out=grad_hidden[start:end])
        if grad_weight is not None:
            _accumulate(grad_weight, logits.T, h_chunk)
    return (
        row_loss.sum(),
        grad_hidden.view(hidden.shape) if grad_hidden is not None else hidden.new_empty(0),
        grad_weight.to(weight.dtype) if grad_weight is not None else hidden.new_empty(0),
    )


@fused_linear_cross_entropy_op.register_fake
def _(hidden, weight, target, token_weight, ignore_index, chunk_size, block_size, need_hidden,
      need_weight):  # fmt: skip
    return (
        hidden.new_empty((), dtype=torch.float32),
        torch.empty_like(hidden, memory_format=torch.contiguous_format)
        if need_hidden
        else hidden.new_empty(0),
        torch.empty_like(weight, memory_format=torch.contiguous_format)
        if need_weight
        else hidden.new_empty(0),
    )


def _setup_context(ctx, inputs, output) -> None:
    need_hidden, need_weight = inputs[-2:]
    _, grad_hidden, grad_weight = output
    ctx.save_for_backward(grad_hidden, grad_weight)
    ctx.need = (need_hidden, need_weight)


def _backward(ctx, grad_loss, _grad_hidden, _grad_weight) -> tuple[torch.Tensor | None, ...]:
    grad_hidden, grad_weight = ctx.saved_tensors
    need_hidden, need_weight = ctx.need
    # Out of place, so that a second backward through a retained graph still sees the saved
    # gradients unscaled.
    dh = grad_hidden * grad_loss.to(grad_hidden.dtype) if need_hidden else None
    dw = grad_weight * grad_loss.to(grad_weight.dtype) if need_weight else None
    return dh, dw, None, None, None, None, None, None, None


fused_linear_cross_entropy_op.register_autograd(_backward, setup_context=_setup_context)


def fused_linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    target: torch.Tensor,
    token_weight: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
    *,
    use_kernel: bool | None = None,
    chunk_size: int | None = None,
    block_size: int | None = None,
) -> torch.Tensor:
    """Weighted mean cross-entropy of (hidden @ weight.T) against target.

    hidden (..., H), weight (V, H), target (...) integer, token_weight (...) bool or float
    (None: all ones). Returns sum(w · loss) / sum(w) with w = 0 where target == ignore_index,
    and 0 when every token is dropped. use_kernel: None chooses by device, True insists on the
    kernel (CUDA, or the interpreter in tests), False takes the reference. chunk_size: rows of
    logits held at once; block_size: vocabulary columns per step of the kernel's loop.
    """
    if not run_kernel(_cross_entropy_kernel, (hidden, weight, target), use_kernel):
        return fused_linear_cross_entropy_reference(
            hidden, weight, target, token_weight, ignore_index
        )
    grad = torch.is_grad_enabled()
    loss, _, _ = fused_linear_cross_entropy_op(
        hidden, weight, target, token_weight, ignore_index, chunk_size, block_size,
        grad and hidden.requires_grad, grad and weight.requires_grad,
    )  # fmt: skip
    return loss
