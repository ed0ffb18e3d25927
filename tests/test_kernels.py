"""kernels/: every Triton kernel against its PyTorch reference, on the CPU under Triton's
interpreter (fp32), on odd shapes: non-power-of-two widths, a single row, rows wider than one
block, more rows than programs. References run in float64 on the same values, so each
comparison measures the kernel's own error; the bound is ‖out − ref‖ / ‖ref‖ < 1e-5.

Every buffer a kernel must write in full is filled with NaN before the launch
(kernels._common.POISON), so an element a kernel forgets fails the comparison.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

# Triton picks its interpreter when a kernel is *decorated*, i.e. when `kernels` is imported,
# so the flag goes in first. The interpreter reads it again at launch, so the `interpret`
# fixture sets it for each test here; in between it is put back, so that the rest of the
# suite (and its subprocesses) does not inherit it.
_saved_flag = os.environ.get("TRITON_INTERPRET")
os.environ["TRITON_INTERPRET"] = "1"
try:
    import torch
    import torch.nn.functional as F

    import heed.kernels
    import heed.kernels._common as _common
    import heed.kernels.ademamix as ademamix
    import heed.kernels.cross_entropy as cross_entropy
    import heed.kernels.rmsnorm as rmsnorm
    import heed.kernels.rope as rope
    import heed.kernels.xielu as xielu

    if not _common.interpreting(rmsnorm._rms_norm_forward_kernel):
        # Something imported `kernels` earlier without the flag: decorate the kernels again.
        for _module in (_common, rmsnorm, rope, xielu, cross_entropy, ademamix, heed.kernels):
            importlib.reload(_module)
finally:
    if _saved_flag is None:
        del os.environ["TRITON_INTERPRET"]
    else:
        os.environ["TRITON_INTERPRET"] = _saved_flag

import pytest  # noqa: E402
from conftest import REPO  # noqa: E402

TOL = 1e-5
KERNELS = {
    "rmsnorm": [rmsnorm._rms_norm_forward_kernel, rmsnorm._rms_norm_backward_kernel],
    "rope": [rope._qk_norm_rope_forward_kernel, rope._qk_norm_rope_backward_kernel],
    "xielu": [xielu._xielu_forward_kernel, xielu._xielu_backward_kernel],
    "cross_entropy": [cross_entropy._cross_entropy_kernel],
    "ademamix": [ademamix._ademamix_kernel],
}


@pytest.fixture(autouse=True)
def interpret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setattr(_common, "POISON", True)


def rel(out: torch.Tensor, ref: torch.Tensor) -> float:
    """‖out − ref‖ / ‖ref‖ in float64 (‖out‖ itself where ref is exactly zero); NaN stays NaN."""
    diff = (out.detach().double() - ref.detach().double()).norm().item()
    scale = ref.detach().double().norm().item()
    return diff / scale if scale > 0 else diff


def check(name: str, out: torch.Tensor, ref: torch.Tensor) -> None:
    assert out.shape == ref.shape, f"{name}: shape {tuple(out.shape)} != {tuple(ref.shape)}"
    assert torch.isfinite(out).all(), f"{name}: non-finite values (an unwritten element?)"
    err = rel(out, ref)
    print(f"{name}: relative error {err:.2e}")  # shown with pytest -s
    assert err < TOL, f"{name}: relative error {err:.2e}"


def leaf(t: torch.Tensor) -> torch.Tensor:
    return t.detach().clone().requires_grad_()


def grads(*tensors: torch.Tensor) -> list[torch.Tensor]:
    return [t.grad for t in tensors]


def test_kernels_run_under_the_interpreter() -> None:
    # Otherwise use_kernel=True would raise on CPU tensors and nothing below would run.
    for name, objs in KERNELS.items():
        for kernel in objs:
            assert _common.interpreting(kernel), name


def test_poisoned_buffers_are_nan() -> None:
    assert torch.isnan(_common.output((3, 5), torch.float32, torch.device("cpu"))).all()


# --- RMSNorm ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "block_size"),
    [
        ((1, 50), None),  # a single row
        ((7, 96), None),  # non-power-of-two width, more rows than programs
        ((13, 50), 16),  # rows four blocks wide (the looping path)
        ((2, 3, 33), 8),  # a 3-d input, width just over a power of two
        ((40, 24), None),  # many rows per program
    ],
)
def test_rms_norm_matches_reference(shape: tuple[int, ...], block_size: int | None) -> None:
    gen = torch.Generator().manual_seed(sum(shape))
    x = torch.randn(shape, generator=gen) * 3 + 0.5
    w = 1 + 0.3 * torch.randn(shape[-1], generator=gen)
    dy = torch.randn(shape, generator=gen)
    xk, wk = leaf(x), leaf(w)
    y = rmsnorm.rms_norm(xk, wk, use_kernel=True, block_size=block_size)
    y.backward(dy)
    xr, wr = leaf(x.double()), leaf(w.double())
    yr = rmsnorm.rms_norm_reference(xr, wr, eps=1e-5)
    yr.backward(dy.double())
    check("rmsnorm y", y, yr)
    check("rmsnorm dx", xk.grad, xr.grad)
    check("rmsnorm dw", wk.grad, wr.grad)


def test_rms_norm_module_is_the_design_pre_norm() -> None:
    norm = rmsnorm.RMSNorm(20, use_kernel=True)
    assert norm.eps == 1e-5
    assert torch.equal(norm.weight.detach(), torch.ones(20))
    x = torch.randn(4, 20)
    expected = x.double() / torch.sqrt(x.double().pow(2).mean(-1, keepdim=True) + 1e-5)
    check("rmsnorm module", norm(x), expected)


# --- QK-norm + RoPE ------------------------------------------------------------------------


def _qk_case(batch, seq, n_q, n_k, head_dim, seed):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, seq, n_q, head_dim, generator=gen) * 2
    k = torch.randn(batch, seq, n_k, head_dim, generator=gen) + 0.3
    qw = 1 + 0.3 * torch.randn(head_dim, generator=gen)
    kw = 1 + 0.3 * torch.randn(head_dim, generator=gen)
    dq = torch.randn(q.shape, generator=gen)
    dk = torch.randn(k.shape, generator=gen)
    return q, k, qw, kw, dq, dk


@pytest.mark.parametrize(
    ("batch", "seq", "n_q", "n_k", "head_dim", "theta"),
    [
        (1, 1, 4, 2, 8, 500_000.0),  # a single token
        (2, 5, 6, 2, 24, 500_000.0),  # GQA 3:1, half width 12 (not a power of two)
        (1, 37, 3, 1, 20, 10_000.0),  # more tokens than programs, another θ
        (1, 3, 32, 8, 128, 500_000.0),  # the 8B model's heads
    ],
)
def test_qk_norm_rope_matches_reference(batch, seq, n_q, n_k, head_dim, theta) -> None:
    q, k, qw, kw, dq, dk = _qk_case(batch, seq, n_q, n_k, head_dim, seed=seq * head_dim)
    positions = torch.randint(0, 8192, (batch, seq), generator=torch.Generator().manual_seed(1))
    ins = [leaf(t) for t in (q, k, qw, kw)]
    qy, ky = rope.qk_norm_rope(*ins, positions, theta=theta, use_kernel=True)
    ((qy * dq).sum() + (ky * dk).sum()).backward()
    refs = [leaf(t.double()) for t in (q, k, qw, kw)]
    qr, kr = rope.qk_norm_rope_reference(*refs, positions, theta=theta, eps=1e-5)
    ((qr * dq.double()).sum() + (kr * dk.double()).sum()).backward()
    check("rope q", qy, qr)
    check("rope k", ky, kr)
    names = ("dq", "dk", "dq_weight", "dk_weight")
    for name, got, want in zip(names, grads(*ins), grads(*refs), strict=True):
        check(f"rope {name}", got, want)


def test_rope_reference_is_rotate_half_at_500k() -> None:
    # The reference itself against the convention written out by hand for one head:
    # out[i] = n[i]·cos(p·θ^(−2i/D)) − n[i+D/2]·sin(…), out[i+D/2] = n[i+D/2]·cos + n[i]·sin.
    head_dim, pos = 8, 4000
    x = torch.randn(1, 1, 1, head_dim, dtype=torch.float64)
    ones = torch.ones(head_dim, dtype=torch.float64)
    out, _ = rope.qk_norm_rope_reference(x, x, ones, ones, torch.tensor([[pos]]))
    n = (x / torch.sqrt(x.pow(2).mean() + 1e-5)).flatten()
    half = head_dim // 2
    angle = pos * 500_000.0 ** (-2 * torch.arange(half, dtype=torch.float64) / head_dim)
    expected = torch.cat(
        (
            n[:half] * angle.cos() - n[half:] * angle.sin(),
            n[half:] * angle.cos() + n[:half] * angle.sin(),
        )
    )
    assert torch.allclose(out.flatten(), expected, rtol=1e-12, atol=1e-12)


def test_qk_norm_rope_positions_restart_for_packed_documents() -> None:
    # Two documents packed in one row, positions restarting at 0 for the second: its tokens
    # must come out exactly as they would alone at the start of a row.
    q, k, qw, kw, _, _ = _qk_case(1, 11, 4, 2, 16, seed=3)
    packed = torch.cat((torch.arange(6), torch.arange(5)))[None]
    qy, ky = rope.qk_norm_rope(q, k, qw, kw, packed, use_kernel=True)
    alone_q, alone_k = rope.qk_norm_rope(
        q[:, 6:].contiguous(), k[:, 6:].contiguous(), qw, kw, torch.arange(5), use_kernel=True
    )
    assert torch.equal(qy[:, 6:], alone_q)
    assert torch.equal(ky[:, 6:], alone_k)
    # and positions do matter: the same document at positions 6..10 comes out differently
    shifted_q, _ = rope.qk_norm_rope(q, k, qw, kw, torch.arange(11), use_kernel=True)
    assert not torch.allclose(shifted_q[:, 6:], alone_q)


# --- xIELU ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "block_size"),
    [
        ((1,), 1024),  # a single element
        ((3, 37), 16),  # seven blocks, the last one partial
        ((2, 3, 333), 256),
        ((5000,), 1024),  # the default block, five of them
    ],
)
def test_xielu_matches_reference(shape: tuple[int, ...], block_size: int) -> None:
    gen = torch.Generator().manual_seed(len(shape) * 100 + shape[-1])
    x = torch.randn(shape, generator=gen) * 3
    flat = x.view(-1)
    # The branch edges: 0 (negative branch), either side of ε, inside (ε, 0], tiny and large
    # values. (ε itself is tested in fp32 below: in float64 it is a different number.)
    special = torch.tensor([0.0, -1.1e-6, -5e-7, -2e-6, 1e-7, -1e-4, -30.0, 12.0, -0.49, -0.51])
    flat[: min(len(special), flat.numel())] = special[: flat.numel()]
    if flat.numel() == 1:
        flat[0] = -0.7
    dy = torch.randn(shape, generator=gen)
    ap = torch.tensor(xielu.softplus_inverse(0.7))
    an = torch.tensor(xielu.softplus_inverse(0.45))
    ins = [leaf(t) for t in (x, ap, an)]
    y = xielu.xielu(*ins, use_kernel=True, block_size=block_size)
    y.backward(dy)
    refs = [leaf(t.double()) for t in (x, ap, an)]
    yr = xielu.xielu_reference(*refs, beta=0.5, eps=-1e-6)
    yr.backward(dy.double())
    check("xielu y", y, yr)
    for name, got, want in zip(("dx", "d_ap", "d_an"), grads(*ins), grads(*refs), strict=True):
        check(f"xielu {name}", got, want)


def test_xielu_formula_and_initial_alphas() -> None:
    act = xielu.XIELU(use_kernel=True)
    alpha_p, alpha_n = F.softplus(act.ap).item(), 0.5 + F.softplus(act.an).item()
    assert alpha_p == pytest.approx(0.8, abs=1e-6)
    assert alpha_n == pytest.approx(0.8, abs=1e-6)
    x = torch.tensor([2.0, 0.5, 0.0, -1e-7, -1.0, -10.0])
    xd = x.double()
    expected = torch.where(
        xd > 0,
        0.8 * xd * xd + 0.5 * xd,
        0.8 * (torch.expm1(torch.clamp(xd, max=-1e-6)) - xd) + 0.5 * xd,
    )
    check("xielu module", act(x), expected)
    # At x = ε exactly, min passes the gradient on (as torch.clamp does): exp(ε) − 1, not −1.
    at_eps = torch.full((3,), -1e-6, requires_grad=True)
    act(at_eps).sum().backward()
    ref_eps = at_eps.detach().clone().requires_grad_()
    xielu.xielu_reference(ref_eps, act.ap, act.an).sum().backward()
    check("xielu gradient at ε", at_eps.grad, ref_eps.grad)


def test_xielu_small_negative_inputs_keep_relative_precision() -> None:
    # For small |x|, expm1(x) − x nearly cancels: a naive exp(x) − 1 (absolute error ~6e-8)
    # would be off by ~1e-2 relative at x = −1e-5. (Elementwise, so kept away from the root
    # of y near x = −2.4, where any relative error blows up.)
    x = -torch.logspace(-7, -0.3, 300)
    ap = torch.tensor(xielu.softplus_inverse(0.8))
    an = torch.tensor(xielu.softplus_inverse(0.3))
    y = xielu.xielu(x, ap, an, use_kernel=True).double()
    yr = xielu.xielu_reference(x.double(), ap.double(), an.double())
    assert ((y - yr) / yr).abs().max().item() < 1e-5


# --- fused linear cross-entropy ------------------------------------------------------------


def _ce_case(n, hidden, vocab, seed):
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(n, hidden, generator=gen)
    w = torch.randn(vocab, hidden, generator=gen) * 0.3
    target = torch.randint(0, vocab, (n,), generator=gen)
    return h, w, target, gen


def _ce_run(h, w, target, token_weight, **kw):
    hk, wk = leaf(h), leaf(w)
    loss = cross_entropy.fused_linear_cross_entropy(hk, wk, target, token_weight, **kw)
    loss.backward()
    return loss, hk.grad, wk.grad


def _ce_reference(h, w, target, token_weight, ignore_index=-100):
    hr, wr = leaf(h.double()), leaf(w.double())
    loss = cross_entropy.fused_linear_cross_entropy_reference(
        hr, wr, target, token_weight, ignore_index=ignore_index
    )
    loss.backward()
    return loss, hr.grad, wr.grad


@pytest.mark.parametrize(
    ("n", "hidden", "vocab", "chunk", "block", "weights"),
    [
        (1, 24, 300, None, None, "none"),  # a single token, default chunk and block
        (37, 48, 777, 8, 128, "mask"),  # five chunks (last partial), rows of seven blocks
        (20, 96, 1000, 16, 256, "float"),  # fractional weights
        (9, 24, 301, 4, 64, "ignore"),  # ignore_index targets and a mask together
        (16, 32, 513, None, None, "none"),  # default chunking, vocabulary just over 2^9
    ],
)
def test_fused_linear_cross_entropy_matches_reference(n, hidden, vocab, chunk, block, weights):
    h, w, target, gen = _ce_case(n, hidden, vocab, seed=n * vocab)
    token_weight = None
    if weights == "mask":
        token_weight = torch.rand(n, generator=gen) > 0.3
    elif weights == "float":
        token_weight = torch.rand(n, generator=gen)
    elif weights == "ignore":
        target[::3] = -100
        token_weight = torch.ones(n, dtype=torch.bool)
        token_weight[1] = False
    loss, dh, dw = _ce_run(h, w, target, token_weight, use_kernel=True, chunk_size=chunk,
                           block_size=block)  # fmt: skip
    loss_r, dh_r, dw_r = _ce_reference(h, w, target, token_weight)
    check("cross-entropy loss", loss, loss_r)
    check("cross-entropy d_hidden", dh, dh_r)
    check("cross-entropy d_weight", dw, dw_r)


def test_fused_linear_cross_entropy_masked_tokens_get_exactly_zero_gradient() -> None:
    h, w, target, gen = _ce_case(23, 40, 500, seed=7)
    mask = torch.rand(23, generator=gen) > 0.4
    target[5] = -100
    kw = dict(use_kernel=True, chunk_size=8, block_size=128)
    loss, dh, dw = _ce_run(h, w, target, mask, **kw)
    dropped = ~mask | (target == -100)
    assert dropped.sum() >= 3 and (~dropped).sum() >= 3
    assert torch.all(dh[dropped] == 0)
    assert torch.all(dh[~dropped] != 0)
    # The dropped tokens' targets and hidden states have no influence at all.
    h2, target2 = h.clone(), target.clone()
    h2[dropped] = torch.randn(int(dropped.sum()), 40, generator=gen) * 100
    target2[dropped & (target != -100)] = 0
    loss2, dh2, dw2 = _ce_run(h2, w, target2, mask, **kw)
    assert torch.equal(loss, loss2) and torch.equal(dw, dw2)
    assert torch.equal(dh[~dropped], dh2[~dropped]) and torch.all(dh2[dropped] == 0)
    # Normalised by the kept tokens only: the mean over the kept rows alone.
    loss_kept, _, _ = _ce_run(h[~dropped], w, target[~dropped], None, **kw)
    assert loss.item() == pytest.approx(loss_kept.item(), rel=1e-6)


def test_fused_linear_cross_entropy_all_dropped_is_zero_not_nan() -> None:
    h, w, target, _ = _ce_case(6, 24, 300, seed=11)
    mask = torch.zeros(6, dtype=torch.bool)
    loss, dh, dw = _ce_run(h, w, target, mask, use_kernel=True, chunk_size=4)
    assert loss.item() == 0.0
    assert torch.all(dh == 0) and torch.all(dw == 0)
    loss_r, dh_r, _ = _ce_reference(h, w, target, mask)
    assert loss_r.item() == 0.0 and torch.all(dh_r == 0)


def test_fused_linear_cross_entropy_scales_by_the_incoming_gradient() -> None:
    h, w, target, _ = _ce_case(10, 24, 300, seed=5)
    hk, wk = leaf(h), leaf(w)
    loss = cross_entropy.fused_linear_cross_entropy(hk, wk, target, use_kernel=True, chunk_size=4)
    (2.5 * loss).backward()
    _, dh_r, dw_r = _ce_reference(h, w, target, None)
    check("cross-entropy scaled d_hidden", hk.grad, 2.5 * dh_r)
    check("cross-entropy scaled d_weight", wk.grad, 2.5 * dw_r)


def test_fused_linear_cross_entropy_takes_batch_shaped_inputs() -> None:
    h, w, target, gen = _ce_case(12, 24, 300, seed=9)
    mask = torch.rand(12, generator=gen) > 0.2
    loss, dh, _ = _ce_run(h.view(3, 4, 24), w, target.view(3, 4), mask.view(3, 4),
                          use_kernel=True, chunk_size=5)  # fmt: skip
    loss_r, dh_r, _ = _ce_reference(h, w, target, mask)
    check("cross-entropy 3-d loss", loss, loss_r)
    check("cross-entropy 3-d d_hidden", dh, dh_r.view(3, 4, 24))


# --- AdEMAMix ------------------------------------------------------------------------------


def test_ademamix_kernel_follows_the_formula_over_steps() -> None:
    gen = torch.Generator().manual_seed(2)
    shape = (37, 29)  # 1073 elements: five blocks of 256, the last nearly empty
    theta0 = torch.randn(shape, generator=gen)
    param, m1, m2, v = theta0.clone(), *(torch.zeros(shape) for _ in range(3))
    param_ref, m1_ref, m2_ref, v_ref = theta0.clone(), *(torch.zeros(shape) for _ in range(3))
    # The formula written out directly, in float64.
    th, M1, M2, V = theta0.double(), *(torch.zeros(shape, dtype=torch.float64) for _ in range(3))
    b1, b2, eps, wd, lr = 0.9, 0.999, 1e-8, 0.1, 0.05
    for t in range(1, 7):
        g = torch.randn(shape, generator=gen) * (1 + t)
        alpha, b3 = 8.0 * t / 6, 0.9 + 0.0999 * t / 6  # warming up, as the trainer does
        ademamix.ademamix_step_kernel(param, g, m1, m2, v, step=t, lr=lr, alpha=alpha,
                                      beta3=b3, block_size=256)  # fmt: skip
        ademamix.ademamix_step_reference(param_ref, g, m1_ref, m2_ref, v_ref, step=t, lr=lr,
                                         alpha=alpha, beta3=b3)  # fmt: skip
        gd = g.double()
        M1 = b1 * M1 + (1 - b1) * gd
        M2 = b3 * M2 + (1 - b3) * gd
        V = b2 * V + (1 - b2) * gd**2
        th = th - lr * ((M1 / (1 - b1**t) + alpha * M2) / (torch.sqrt(V / (1 - b2**t)) + eps)
                        + wd * th)  # fmt: skip
        for name, got in (("kernel", param), ("reference", param_ref)):
            check(f"ademamix {name} θ step {t}", got, th)
            # the distance moved, so that an error in the (small) update is not hidden by θ
            check(f"ademamix {name} Δθ step {t}", got - theta0, th - theta0.double())
        for name, got, want in (("m1", m1, M1), ("m2", m2, M2), ("v", v, V)):
            check(f"ademamix {name} step {t}", got, want)
        for name, got, want in (("m1", m1_ref, M1), ("m2", m2_ref, M2), ("v", v_ref, V)):
            check(f"ademamix reference {name} step {t}", got, want)


def test_ademamix_defaults_and_dispatch() -> None:
    param, grad = torch.randn(50), torch.randn(50)
    states = [torch.zeros(50) for _ in range(3)]
    expected = param.double() - 1e-3 * (
        (grad.double() + 8.0 * (1 - 0.9999) * grad.double()) / (grad.double().abs() + 1e-8)
        + 0.1 * param.double()
    )
    ademamix.ademamix_step(param, grad, *states, step=1, lr=1e-3, use_kernel=True)
    check("ademamix defaults", param, expected)
    with pytest.raises(ValueError):
        ademamix.ademamix_step_kernel(param, grad, *states, step=0, lr=1e-3)
    with pytest.raises(ValueError):
        ademamix.ademamix_step_kernel(param, grad[:10], *states, step=1, lr=1e-3)


# --- dispatch ------------------------------------------------------------------------------


# --- the custom ops ----------------------------------------------------------------------


def _op_cases() -> dict[str, tuple]:
    """Each registered op (forward and backward) with small inputs, some needing gradients."""
    gen = torch.Generator().manual_seed(7)

    def r(*shape, grad=False):
        return torch.randn(*shape, generator=gen).requires_grad_(grad)

    x, w = r(3, 5, 24, grad=True), r(24, grad=True)
    _, rstd = rmsnorm.rms_norm_op(x.detach(), w.detach(), 1e-5, None)
    q, k, qw, kw = r(2, 3, 4, 8, grad=True), r(2, 3, 2, 8, grad=True), r(8, grad=True), r(8)
    cos, sin = rope.rope_cos_sin(torch.arange(3).repeat(2), 8)
    _, _, q_rstd, k_rstd = rope.qk_norm_rope_op(
        q.detach(), k.detach(), qw.detach(), kw, cos, sin, 1e-5
    )
    ap, an = torch.tensor([0.7], requires_grad=True), torch.tensor([0.9], requires_grad=True)
    h, emb = r(2, 5, 24, grad=True), r(50, 24, grad=True)
    target = torch.randint(0, 50, (2, 5), generator=gen)
    return {
        "rms_norm": (rmsnorm.rms_norm_op, (x, w, 1e-5, None)),
        "rms_norm wide rows": (rmsnorm.rms_norm_op, (x, w, 1e-5, 8)),
        "rms_norm_backward": (
            rmsnorm.rms_norm_backward_op,
            (r(3, 5, 24), x.detach(), w.detach(), rstd, None),
        ),
        "qk_norm_rope": (rope.qk_norm_rope_op, (q, k, qw, kw, cos, sin, 1e-5)),
        "qk_norm_rope_backward": (
            rope.qk_norm_rope_backward_op,
            (
                r(2, 3, 4, 8),
                r(2, 3, 2, 8),
                q.detach(),
                k.detach(),
                qw.detach(),
                kw,
                cos,
                sin,
                q_rstd,
                k_rstd,
            ),
        ),
        "xielu": (xielu.xielu_op, (x, ap, an, 0.5, -1e-6, 64)),
        "xielu_backward": (
            xielu.xielu_backward_op,
            (r(3, 5, 24), x.detach(), ap.detach(), an.detach(), 0.5, -1e-6, 64),
        ),
        "fused_linear_cross_entropy": (
            cross_entropy.fused_linear_cross_entropy_op,
            (h, emb, target, torch.rand(2, 5, generator=gen), -100, 4, None, True, True),
        ),
        "fused_linear_cross_entropy, no weight gradient": (
            cross_entropy.fused_linear_cross_entropy_op,
            (h, emb.detach(), target, None, -100, None, 16, True, False),
        ),
    }


OP_CASES = [
    "rms_norm", "rms_norm wide rows", "rms_norm_backward", "qk_norm_rope",
    "qk_norm_rope_backward", "xielu", "xielu_backward", "fused_linear_cross_entropy",
    "fused_linear_cross_entropy, no weight gradient",
]  # fmt: skip


@pytest.mark.parametrize("case", OP_CASES)
def test_custom_ops_pass_opcheck(case: str) -> None:
    # torch.library.opcheck: the schema, the fake (shape) function against the real outputs,
    # the autograd registration, and a trace through AOTAutograd with dynamic shapes, which is
    # what torch.compile does with the op.
    cases = _op_cases()
    assert sorted(cases) == sorted(OP_CASES)
    op, args = cases[case]
    result = torch.library.opcheck(op, args)
    assert set(result.values()) == {"SUCCESS"}, result


def test_dispatch_chooses_by_device_and_request() -> None:
    kernel = rmsnorm._rms_norm_forward_kernel
    cpu = (torch.zeros(1),)
    cuda = (SimpleNamespace(is_cuda=True),)
    assert _common.run_kernel(kernel, cpu, None) is False  # CPU: the reference
    assert _common.run_kernel(kernel, cpu, False) is False
    assert _common.run_kernel(kernel, cpu, True) is True  # interpreted here
    assert _common.run_kernel(kernel, cuda, None) is True
    assert _common.run_kernel(kernel, cuda, False) is False
    compiled = SimpleNamespace()  # a kernel Triton compiled for the GPU
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET"):
        _common.run_kernel(compiled, cpu, True)


def test_cpu_tensors_default_to_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the kernel ran on CPU tensors without being asked to")

    for module, op in ((rmsnorm, "rms_norm_op"), (rope, "qk_norm_rope_op"), (xielu, "xielu_op"),
                       (cross_entropy, "fused_linear_cross_entropy_op")):  # fmt: skip
        monkeypatch.setattr(module, op, refuse)
    monkeypatch.setattr(ademamix, "ademamix_step_kernel", refuse)
    x, w = torch.randn(3, 8), torch.ones(8)
    assert torch.equal(rmsnorm.rms_norm(x, w), rmsnorm.rms_norm_reference(x, w))
    q = torch.randn(1, 2, 2, 8)
    pos = torch.arange(2)
    got, want = rope.qk_norm_rope(q, q, w, w, pos), rope.qk_norm_rope_reference(q, q, w, w, pos)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    ap, an = torch.tensor(0.2), torch.tensor(-0.5)
    assert torch.equal(xielu.xielu(x, ap, an), xielu.xielu_reference(x, ap, an))
    emb, t = torch.randn(5, 8), torch.tensor([1, 2, 3])
    assert torch.equal(
        cross_entropy.fused_linear_cross_entropy(x, emb, t),
        cross_entropy.fused_linear_cross_entropy_reference(x, emb, t),
    )
    p, g = torch.randn(4), torch.randn(4)
    p_ref = p.clone()
    ademamix.ademamix_step(p, g, *(torch.zeros(4) for _ in range(3)), step=1, lr=0.1)
    ademamix.ademamix_step_reference(p_ref, g, *(torch.zeros(4) for _ in range(3)), step=1, lr=0.1)
    assert torch.equal(p, p_ref)


def test_without_the_flag_cpu_runs_the_reference_and_refuses_the_kernel() -> None:
    # A fresh interpreter without TRITON_INTERPRET: the kernels are compiled-GPU kernels, the
    # default path must still work on CPU tensors, and asking for the kernel must say why not.
    script = textwrap.dedent(
        """
        import torch
        from heed.kernels.rmsnorm import rms_norm, rms_norm_reference
        from heed.kernels.xielu import xielu, xielu_reference
        x, w = torch.randn(3, 8), torch.ones(8)
        assert torch.equal(rms_norm(x, w), rms_norm_reference(x, w))
        ap, an = torch.tensor(0.2), torch.tensor(-0.5)
        assert torch.equal(xielu(x, ap, an), xielu_reference(x, ap, an))
        try:
            rms_norm(x, w, use_kernel=True)
        except RuntimeError as e:
            assert "TRITON_INTERPRET" in str(e)
            print("refused")
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}  # (set by the fixture)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "refused"


def test_benchmark_script_runs_its_cpu_check() -> None:
    # benchmarks/kernels.py needs a GPU for real; --cpu-check runs its shape and call code
    # (eager and the interpreted kernels) on tiny fp32 shapes, so the script cannot rot here.
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    done = subprocess.run(
        [sys.executable, "benchmarks/kernels.py", "--cpu-check", "--reps", "1", "--sweep"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")][2:]
    variants = [row.strip("| ").split(" | ")[1] for row in table]
    # Five ops, eager and triton each, and each op's tuning knobs under --sweep.
    assert variants.count("eager") == 5 and variants.count("triton") == 5
    assert {"triton [programs/SM=1]", "triton [bf16 product + add]"} <= set(variants)
    for row in table:
        error = float(row.strip("| ").split(" | ")[-1])
        assert error < 1e-5, row
    # --verify: every op on two odd shapes against float64, buffers poisoned.
    checked = subprocess.run(
        [sys.executable, "benchmarks/kernels.py", "--cpu-check", "--verify"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rows = [line for line in checked.stdout.splitlines() if line.startswith("| ")][2:]
    assert len(rows) == 10 and all(" | pass" in row for row in rows), rows
    assert sum("exactly 0" in row for row in rows) == 2  # the cross-entropy's dropped tokens
    if torch.cuda.is_available():
        return  # the real benchmark would run: five minutes, not a test
    without_gpu = subprocess.run(
        [sys.executable, "benchmarks/kernels.py"], cwd=REPO, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert without_gpu.returncode == 2 and "needs a CUDA device" in without_gpu.stderr


def test_make_bench_keeps_the_gpu_results() -> None:
    # `make bench` runs on the CPU and rewrites RESULTS.md; the GPU part (pasted from
    # benchmarks/gpu.sh) must survive it, and a file without the marker has none.
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import run as bench_run
    finally:
        sys.path.pop(0)
    text = f"# Benchmark results\n\ncpu figures\n\n{bench_run.GPU_MARKER}\n\n## on a GPU\n| a |\n"
    assert bench_run.gpu_section(text) == [bench_run.GPU_MARKER, "", "## on a GPU", "| a |"]
    assert bench_run.gpu_section("# Benchmark results\n\ncpu figures\n") == []
    assert bench_run.GPU_MARKER in (REPO / "benchmarks" / "RESULTS.md").read_text()
