"""What every op shares: the kernel-or-reference choice, block sizes and program counts.

A Triton kernel runs on CUDA tensors. On the CPU it runs only under the interpreter, which
Triton chooses when a kernel is *decorated*, i.e. when TRITON_INTERPRET=1 is set before
`kernels` is imported; the interpreter is slow and fp32-only, so it serves the tests alone
and is used only when a caller asks for the kernel explicitly.
"""

from __future__ import annotations

import torch
import triton


def interpreting(kernel: object) -> bool:
    """Whether `kernel` was decorated under TRITON_INTERPRET=1 (and so runs on CPU tensors)."""
    return type(kernel).__name__ == "InterpretedFunction"


def run_kernel(kernel: object, tensors: tuple[torch.Tensor, ...], want: bool | None) -> bool:
    """Decide between the Triton kernel and the PyTorch reference.

    want=None: the kernel on CUDA tensors, the reference elsewhere. want=False: the reference.
    want=True: the kernel, on CUDA tensors or (tests) on CPU tensors under the interpreter;
    asking for it where it cannot run is an error rather than a silent fallback, so a test
    that means to check the kernel cannot end up checking the reference against itself.
    """
    if want is False:
        return False
    on_cuda = all(t.is_cuda for t in tensors)
    if want is None:
        return on_cuda
    if on_cuda or interpreting(kernel):
        return True
    raise RuntimeError(
        "the Triton kernel needs CUDA tensors, or TRITON_INTERPRET=1 set before `kernels` "
        "is imported (fp32 only)"
    )


def block_and_warps(n: int, cap: int = 65536) -> tuple[int, int]:
    """A power-of-two block covering n (at most `cap`) and a warp count that suits it.

    The same rule of thumb as Liger-Kernel's calculate_settings: wider blocks get more warps
    so that each thread keeps a handful of elements in registers.
    """
    block = min(triton.next_power_of_2(max(n, 1)), cap)
    if block >= 32768:
        warps = 32
    elif block >= 8192:
        warps = 16
    elif block >= 2048:
        warps = 8
    else:
        warps = 4
    return block, warps


# Programs per streaming multiprocessor in the kernels that walk rows and keep a partial sum
# (the norms' backward passes). One per SM leaves each SM a single program waiting on one
# row's loads at a time; several overlap those waits, at the price of a few more partial sums
# to add up. benchmarks/kernels.py --sweep measures the choice.
PROGRAMS_PER_SM = 4


def num_programs(device: torch.device, rows: int) -> int:
    """How many programs share `rows` rows in kernels that reduce partial sums across rows.

    PROGRAMS_PER_SM per streaming multiprocessor on CUDA (each keeps its partial sum in
    registers); a few on the CPU, so that the interpreted tests still add partial sums from
    several programs.
    """
    if device.type == "cuda":
        sms = torch.cuda.get_device_properties(device).multi_processor_count
        per_device = sms * PROGRAMS_PER_SM
    else:
        per_device = 3
    return max(1, min(rows, per_device))


# Tests set this to fill every buffer that a kernel must write in full with NaN before the
# launch, so that an element the kernel forgets shows up instead of stale memory that happens
# to hold the right value.
POISON = False


def output(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An uninitialised buffer that a kernel is about to write in full (NaN when POISON)."""
    out = torch.empty(shape, dtype=dtype, device=device)
    if POISON:
        out.fill_(float("nan"))
    return out
