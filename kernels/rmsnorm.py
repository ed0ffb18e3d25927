"""RMSNorm: y = x / sqrt(mean(x²) + eps) * w, the model's pre-norm (eps 1e-5).

Fused: the mean of squares, the scaling and the weight in one pass over each row (forward),
and the input gradient with the weight gradient's partial sums in one pass (backward). In
eager PyTorch each of these is a separate kernel with an fp32 copy of the row between them;
here each row is read once in its own dtype and reduced in fp32 registers. The weight
gradient is a sum over all rows: each program keeps a partial sum over its block of rows and
the few partial sums (one per SM) are added up in PyTorch afterwards.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from heed.kernels._common import block_and_warps, num_programs, output, run_kernel

EPS = 1e-5


@triton.jit
def _rms_norm_forward_kernel(
    X, W, Y, RSTD,
    stride_x, stride_y, n_cols, eps,
    BLOCK_SIZE: tl.constexpr, ONE_BLOCK: tl.constexpr,
):  # fmt: skip
    # One program per row. A row that fits one block stays in registers; a wider one is read
    # twice (sum of squares, then the scaled write) rather than spilling.
    row = tl.program_id(0).to(tl.int64)
    x_row = X + row * stride_x
    y_row = Y + row * stride_y
    if ONE_BLOCK:
        cols = tl.arange(0, BLOCK_SIZE)
        mask = cols < n_cols
        x = tl.load(x_row + cols, mask=mask, other=0.0).to(tl.float32)
        rstd = tl.rsqrt(tl.sum(x * x, axis=0) / n_cols + eps)
        w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
        tl.store(y_row + cols, (x * rstd * w).to(Y.dtype.element_ty), mask=mask)
    else:
        squares = tl.zeros([BLOCK_SIZE], dtype=tl.float32)
        for start in range(0, n_cols, BLOCK_SIZE):
            cols = start + tl.arange(0, BLOCK_SIZE)
            x = tl.load(x_row + cols, mask=cols < n_cols, other=0.0).to(tl.float32)
            squares += x * x
        rstd = tl.rsqrt(tl.sum(squares, axis=0) / n_cols + eps)
        for start in range(0, n_cols, BLOCK_SIZE):
            cols = start + tl.arange(0, BLOCK_SIZE)
            mask = cols < n_cols
            x = tl.load(x_row + cols, mask=mask, other=0.0).to(tl.float32)
            w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
            tl.store(y_row + cols, (x * rstd * w).to(Y.dtype.element_ty), mask=mask)
    # Kept for the backward pass so that it need not recompute the row's norm.
    tl.store(RSTD + row, rstd)


@triton.jit
def _rms_norm_backward_kernel(
    DY, X, W, RSTD, DX, DW_PARTIAL,
    stride_dy, stride_x, stride_dx, n_rows, n_cols, rows_per_program,
    BLOCK_SIZE: tl.constexpr, ONE_BLOCK: tl.constexpr,
):  # fmt: skip
    # With r = rstd and g = dy * w:
    #   dx = r * g - r³ / n * x * sum(g * x),   dw = sum over rows of dy * x * r.
    # Each program walks its own block of rows and writes one row of DW_PARTIAL.
    # int64 bounds make the row loop's variable int64, so row * stride cannot overflow.
    pid = tl.program_id(0).to(tl.int64)
    row_start = pid * rows_per_program
    row_end = tl.minimum(row_start + rows_per_program, n_rows)
    dw_row = DW_PARTIAL + pid * n_cols
    if ONE_BLOCK:
        cols = tl.arange(0, BLOCK_SIZE)
        mask = cols < n_cols
        w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
        dw = tl.zeros([BLOCK_SIZE], dtype=tl.float32)
        for row in range(row_start, row_end):
            dy = tl.load(DY + row * stride_dy + cols, mask=mask, other=0.0).to(tl.float32)
            x = tl.load(X + row * stride_x + cols, mask=mask, other=0.0).to(tl.float32)
            rstd = tl.load(RSTD + row)
            g = dy * w
            c = rstd * rstd * rstd * tl.sum(g * x, axis=0) / n_cols
            dx = rstd * g - c * x
            tl.store(DX + row * stride_dx + cols, dx.to(DX.dtype.element_ty), mask=mask)
            dw += dy * x * rstd
        tl.store(dw_row + cols, dw, mask=mask)
    else:
        # Too wide for registers: the partial sum lives in this program's own row of
        # DW_PARTIAL (zeroed by the caller), which no other program touches.
        for row in range(row_start, row_end):
            dy_row = DY + row * stride_dy
            x_row = X + row * stride_x
            rstd = tl.load(RSTD + row)
            dot = tl.zeros([BLOCK_SIZE], dtype=tl.float32)
            for start in range(0, n_cols, BLOCK_SIZE):
                cols = start + tl.arange(0, BLOCK_SIZE)
                mask = cols < n_cols
                dy = tl.load(dy_row + cols, mask=mask, other=0.0).to(tl.float32)
                x = tl.load(x_row + cols, mask=mask, other=0.0).to(tl.float32)
                w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
                dot += dy * w * x
            c = rstd * rstd * rstd * tl.sum(dot, axis=0) / n_cols
            for start in range(0, n_cols, BLOCK_SIZE):
                cols = start + tl.arange(0, BLOCK_SIZE)
                mask = cols < n_cols
                dy = tl.load(dy_row + cols, mask=mask, other=0.0).to(tl.float32)
                x = tl.load(x_row + cols, mask=mask, other=0.0).to(tl.float32)
                w = tl.load(W + cols, mask=mask, other=0.0).to(tl.float32)
                dx = rstd * dy * w - c * x
                tl.store(DX + row * stride_dx + cols, dx.to(DX.dtype.element_ty), mask=mask)
                dw = tl.load(dw_row + cols, mask=mask, other=0.0)
                tl.store(dw_row + cols, dw + dy * x * rstd, mask=mask)


def rms_norm_reference(x: torch.Tensor, weight: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Plain PyTorch: normalise the last dimension in fp32, scale by the weight, cast back."""
    xf = x.to(torch.promote_types(x.dtype, torch.float32))  # fp64 stays fp64
    y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * weight.to(xf.dtype)
    return y.to(x.dtype)


def _settings(n_cols: int, block_size: int | None) -> tuple[int, int, bool]:
    block, warps = block_and_warps(n_cols)
    if block_size is not None:
        block = block_size
    return block, warps, n_cols <= block


# The kernels as PyTorch custom ops (torch.library), forward and backward each one op with a
# shape function ("fake") and the autograd formula registered beside it: torch.compile puts
# them into its graph as they are, where an autograd.Function around a Triton launch would be
# traced into, and the tests can check them with torch.library.opcheck.


@torch.library.custom_op("heed::rms_norm", mutates_args=())
def rms_norm_op(
    x: torch.Tensor, weight: torch.Tensor, eps: float, block_size: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """y = RMSNorm(x) and each row's 1/rms, which the backward pass reuses."""
    x2 = x.reshape(-1, x.shape[-1]).contiguous()
    n_rows, n_cols = x2.shape
    block, warps, one_block = _settings(n_cols, block_size)
    y = output(tuple(x.shape), x.dtype, x.device)
    rstd = output((n_rows,), torch.float32, x.device)
    _rms_norm_forward_kernel[(n_rows,)](
        x2, weight, y, rstd, x2.stride(0), n_cols, n_cols, eps,
        BLOCK_SIZE=block, ONE_BLOCK=one_block, num_warps=warps,
    )  # fmt: skip
    return y, rstd


@rms_norm_op.register_fake
def _(x, weight, eps, block_size):
    return torch.empty_like(x), x.new_empty((x.numel() // x.shape[-1],), dtype=torch.float32)


@torch.library.custom_op("heed::rms_norm_backward", mutates_args=())
def rms_norm_backward_op(
    dy: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, rstd: torch.Tensor,
    block_size: int | None,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """(dx, dweight) from dy and the forward's input and 1/rms."""
    x2 = x.reshape(-1, x.shape[-1]).contiguous()
    n_rows, n_cols = x2.shape
    block, warps, one_block = _settings(n_cols, block_size)
    dy2 = dy.reshape(-1, n_cols).contiguous()
    dx = output(tuple(x.shape), x.dtype, x.device)
    rows_per_program = triton.cdiv(n_rows, num_programs(x.device, n_rows))
    programs = triton.cdiv(n_rows, rows_per_program)  # none left without a row
    if one_block:
        dw_partial = output((programs, n_cols), torch.float32, x.device)
    else:
        dw_partial = torch.zeros((programs, n_cols), dtype=torch.float32, device=x.device)
    _rms_norm_backward_kernel[(programs,)](
        dy2, x2, weight, rstd, dx, dw_partial,
        dy2.stride(0), x2.stride(0), n_cols, n_rows, n_cols, rows_per_program,
        BLOCK_SIZE=block, ONE_BLOCK=one_block, num_warps=warps,
    )  # fmt: skip
    return dx, dw_partial.sum(0).to(weight.dtype)


@rms_norm_backward_op.register_fake
def _(dy, x, weight, rstd, block_size):
    return torch.empty_like(x), torch.empty_like(weight)


def _setup_context(ctx, inputs, output) -> None:
    x, weight, _, block_size = inputs
    ctx.save_for_backward(x, weight, output[1])
    ctx.block_size = block_size


def _backward(ctx, dy: torch.Tensor, _: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    x, weight, rstd = ctx.saved_tensors
    dx, dw = rms_norm_backward_op(dy, x, weight, rstd, ctx.block_size)
    return dx, dw, None, None


rms_norm_op.register_autograd(_backward, setup_context=_setup_context)


def rms_norm(
    x: torch.Tensor,
    weight: torch.Tensor,
    eps: float = EPS,
    *,
    use_kernel: bool | None = None,
    block_size: int | None = None,
) -> torch.Tensor:
    """RMSNorm over the last dimension: the Triton kernel on CUDA, the reference elsewhere.

    use_kernel: None chooses by device, True insists on the kernel (CUDA, or the interpreter
    in tests), False takes the reference. block_size overrides the column block (a power of
    two); rows wider than it are processed block by block.
    """
    if run_kernel(_rms_norm_forward_kernel, (x, weight), use_kernel):
        return rms_norm_op(x, weight, eps, block_size)[0]
    return rms_norm_reference(x, weight, eps)


class RMSNorm(torch.nn.Module):
    """The model's pre-norm: a weight of ones, eps 1e-5."""

    def __init__(self, hidden: int, eps: float = EPS, *, use_kernel: bool | None = None) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(hidden))
        self.eps = eps
        self.use_kernel = use_kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rms_norm(x, self.weight, self.eps, use_kernel=self.use_kernel)
