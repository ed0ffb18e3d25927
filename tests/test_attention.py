"""training/attention.py: every document-masking backend against the dense mask, on packed rows
with many documents, 1-token documents, a document filling the whole window and trailing
padding; FlexAttention's block mask against one derived from the dense mask; the model with
each backend (Triton kernels under the interpreter) giving the same loss and gradients; and
compiled blocks with no graph break and no recompile when the document layout changes.

FlexAttention on the CPU runs its unfused reference, which evaluates mask_mod everywhere and
ignores the block mask, and refuses a backward pass (its compiled CPU kernel has none, the
reference has). The tests therefore check the block mask on its own and through flex's
compiled CPU kernel (forward), and the gradients through the reference with that refusal
lifted. The real GPU kernels are checked by benchmarks/trainer.py --verify (benchmarks/gpu.sh).
"""

from __future__ import annotations

import os
from dataclasses import replace

# The model's kernels run on CPU tensors only under Triton's interpreter, chosen when the kernels
# are decorated (at import): as in test_kernels.py, the flag goes in first and is put back after.
_saved_flag = os.environ.get("TRITON_INTERPRET")
os.environ["TRITON_INTERPRET"] = "1"
try:
    import torch
    import torch.nn.attention.flex_attention as flex_module
    import torch.nn.functional as F

    import heed.kernels._common as _common
    import heed.kernels.rmsnorm as rmsnorm
    from heed.training import attention
    from heed.training.attention import (
        DocumentMask,
        cumulative_lengths,
        dense_document_mask,
        document_attention,
        document_block_mask,
        document_mask,
        document_mask_mod,
        varlen_reference,
    )
    from heed.training.flops import attention_pairs, step_flops
    from heed.training.model import Block, ModelConfig, Transformer
finally:
    if _saved_flag is None:
        del os.environ["TRITON_INTERPRET"]
    else:
        os.environ["TRITON_INTERPRET"] = _saved_flag

import pytest  # noqa: E402
from torch.nn.attention.flex_attention import create_block_mask, flex_attention  # noqa: E402

ATOL = 1e-5


@pytest.fixture(autouse=True)
def interpret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")


@pytest.fixture
def flex_backward_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lift flex_attention's refusal of a CPU backward pass: its unfused reference (what runs
    uncompiled) has one; only its compiled CPU kernel does not."""
    monkeypatch.setattr(flex_module, "_validate_device", lambda *args: None)


def packed(rows: list[list[int]], seq: int) -> torch.Tensor:
    """(B, seq) segment ids as the loader makes them: one id per document piece, increasing
    along the row; a row whose pieces end early is padded by a segment of its own."""
    out = []
    for lengths in rows:
        assert sum(lengths) <= seq
        pieces = [*lengths, seq - sum(lengths)] if sum(lengths) < seq else lengths
        ids = torch.repeat_interleave(torch.arange(len(pieces)), torch.tensor(pieces))
        out.append(ids)
    return torch.stack(out)


def layouts(seq: int, seed: int = 0) -> torch.Tensor:
    """Four rows: many documents of 1 to seq/5 tokens; 1-token documents at the start, inside
    and at the end; one document filling the whole window; two documents then padding."""
    gen = torch.Generator().manual_seed(seed)
    many: list[int] = []
    while sum(many) < seq:
        many.append(int(torch.randint(1, max(seq // 5, 2) + 1, (1,), generator=gen)))
    many[-1] -= sum(many) - seq
    many = [n for n in many if n > 0]
    ones = [1, seq // 3, 1, seq - seq // 3 - 3, 1]
    return packed([many, ones, [seq], [seq // 4, seq // 3]], seq)


# --- the masks -------------------------------------------------------------------------------


def test_layouts_hold_what_they_claim() -> None:
    segments = layouts(150)
    lengths = [torch.unique(row, return_counts=True)[1] for row in segments]
    assert len(lengths[0]) > 8  # many documents
    assert (lengths[1] == 1).sum() == 3  # three 1-token documents
    assert lengths[2].tolist() == [150]  # one document, the whole window
    assert len(lengths[3]) == 3  # two documents and the padding


@pytest.mark.parametrize("seq", [150, 64])
def test_mask_mod_is_the_dense_mask(seq: int) -> None:
    segments = layouts(seq)
    mask_mod = document_mask_mod(segments)
    b = torch.arange(len(segments))[:, None, None]
    q = torch.arange(seq)[None, :, None]
    kv = torch.arange(seq)[None, None, :]
    dense = dense_document_mask(segments)[:, 0]
    assert torch.equal(mask_mod(b, 0, q, kv), dense)
    # The dense mask by its definition, written out pair by pair for one row.
    row = segments[1]
    for i in range(0, seq, 7):
        for j in range(seq):
            assert bool(dense[1, i, j]) == (j <= i and bool(row[i] == row[j]))


@pytest.mark.parametrize(("seq", "block"), [(160, 32), (150, 32), (97, 16), (256, 128)])
def test_block_mask_tiles_are_those_of_the_dense_mask(seq: int, block: int) -> None:
    segments = layouts(seq, seed=seq)
    mask = document_block_mask(segments, block)
    tiles = -(-seq // block)
    dense = dense_document_mask(segments)[:, 0]
    padded = torch.zeros(len(segments), tiles * block, tiles * block, dtype=torch.bool)
    padded[:, :seq, :seq] = dense
    per_tile = padded.view(len(segments), tiles, block, tiles, block)
    any_allowed = per_tile.any(dim=(2, 4))
    # A tile is whole when every pair in it is allowed (a padded last tile never is).
    all_allowed = per_tile.all(dim=(2, 4))
    if tiles * block != seq:
        all_allowed[:, -1] = False
    got_partial = _tile_map(mask.kv_num_blocks, mask.kv_indices, tiles)
    got_whole = _tile_map(mask.full_kv_num_blocks, mask.full_kv_indices, tiles)
    assert torch.equal(got_partial | got_whole, any_allowed)
    assert torch.equal(got_whole, all_allowed)
    assert not (got_partial & got_whole).any()
    # Not a vacuous check: these layouts skip tiles and have whole ones.
    assert (~any_allowed).any() and all_allowed.any()


def _tile_map(counts: torch.Tensor, indices: torch.Tensor, tiles: int) -> torch.Tensor:
    """(B, Q, K) bool of the key tiles listed for each query tile."""
    batch = counts.shape[0]
    out = torch.zeros(batch, tiles, tiles, dtype=torch.bool)
    for b in range(batch):
        for i in range(tiles):
            out[b, i, indices[b, 0, i, : counts[b, 0, i]].long()] = True
    return out


@pytest.mark.parametrize(("seq", "block"), [(160, 32), (150, 32), (97, 16)])
def test_block_mask_equals_create_block_mask(seq: int, block: int) -> None:
    # torch's create_block_mask evaluates mask_mod at every position; ours reads tile ranges.
    segments = layouts(seq, seed=seq + 1)
    ours = document_block_mask(segments, block)
    theirs = create_block_mask(
        document_mask_mod(segments), len(segments), None, seq, seq, device="cpu",
        BLOCK_SIZE=block,
    )  # fmt: skip
    for name in ("kv_num_blocks", "kv_indices", "full_kv_num_blocks", "full_kv_indices",
                 "q_num_blocks", "q_indices", "full_q_num_blocks", "full_q_indices"):  # fmt: skip
        assert torch.equal(getattr(ours, name), getattr(theirs, name)), name
    assert ours.seq_lengths == theirs.seq_lengths == (seq, seq)


def test_cumulative_lengths_cut_at_documents_and_rows() -> None:
    segments = packed([[2, 1, 3], [6], [1, 1, 1, 3]], 6)
    expected = [0, 2, 3, 6, 12, 13, 14, 15, 18]
    assert cumulative_lengths(segments).tolist() == expected
    assert cumulative_lengths(segments).dtype == torch.int32
    # A row that starts with the id the last row ended on is still a new piece.
    same_ids = torch.zeros(2, 4, dtype=torch.long)
    assert cumulative_lengths(same_ids).tolist() == [0, 4, 8]


def test_attention_pairs_count_the_dense_mask() -> None:
    segments = layouts(150)
    assert attention_pairs(segments) == int(dense_document_mask(segments).sum())
    # and by hand: a row of one document has T(T+1)/2 pairs, a row of 1-token documents T.
    assert attention_pairs(packed([[10]], 10)) == 55
    assert attention_pairs(packed([[1] * 10], 10)) == 10


def test_step_flops_formula() -> None:
    # 6·N per token plus 12·L·H·D per allowed pair: N = 1000, L = 2, H = 4, D = 8.
    assert step_flops(1000, 2, 4, 8, tokens=10, pairs=55) == 6 * 1000 * 10 + 12 * 2 * 4 * 8 * 55


# --- attention against the dense mask ---------------------------------------------------------


def qkv(segments: torch.Tensor, heads: int = 4, kv_heads: int = 2, head_dim: int = 16):
    batch, seq = segments.shape
    gen = torch.Generator().manual_seed(seq)
    q = torch.randn(batch, seq, heads, head_dim, generator=gen)
    k = torch.randn(batch, seq, kv_heads, head_dim, generator=gen)
    v = torch.randn(batch, seq, kv_heads, head_dim, generator=gen)
    dy = torch.randn(batch, seq, heads, head_dim, generator=gen)
    return q, k, v, dy


def run(q, k, v, dy, mask: DocumentMask) -> list[torch.Tensor]:
    """Output and the q, k, v gradients of sum(y · dy)."""
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    y = document_attention(*leaves, mask)
    (y * dy).sum().backward()
    return [y.detach(), *(t.grad for t in leaves)]


def by_loop(q, k, v, segments) -> torch.Tensor:
    """The oracle of the oracle: each document alone through causal SDPA, row by row."""
    out = torch.empty_like(q)
    for b, row in enumerate(segments):
        for piece in row.unique():
            where = (row == piece).nonzero().flatten()
            one = (t[b, where].transpose(0, 1)[None] for t in (q, k, v))
            y = F.scaled_dot_product_attention(*one, is_causal=True, enable_gqa=True)
            out[b, where] = y[0].transpose(0, 1)
    return out


@pytest.mark.parametrize("seq", [150, 64])
def test_dense_mask_is_each_document_alone(seq: int) -> None:
    segments = layouts(seq)
    q, k, v, _ = qkv(segments)
    y = document_attention(q, k, v, document_mask(segments, "dense"))
    torch.testing.assert_close(y, by_loop(q, k, v, segments), atol=ATOL, rtol=0)


@pytest.mark.parametrize("backend", ["flex", "varlen"])
@pytest.mark.parametrize("seq", [150, 64])
def test_backend_equals_dense_outputs_and_gradients(
    backend: str, seq: int, flex_backward_on_cpu: None
) -> None:
    segments = layouts(seq)
    q, k, v, dy = qkv(segments)
    want = run(q, k, v, dy, document_mask(segments, "dense"))
    got = run(q, k, v, dy, document_mask(segments, backend, block_size=32))
    for name, a, b in zip(("y", "dq", "dk", "dv"), got, want, strict=True):
        torch.testing.assert_close(a, b, atol=ATOL, rtol=0, msg=f"{backend} {name}")


def test_varlen_reference_takes_each_piece_alone() -> None:
    segments = packed([[3, 5], [8]], 8)
    q, k, v, _ = qkv(segments, heads=2, kv_heads=1, head_dim=4)
    flat = [t.reshape(16, t.shape[2], 4) for t in (q, k, v)]
    y = varlen_reference(*flat, cumulative_lengths(segments)).view(2, 8, 2, 4)
    torch.testing.assert_close(y, by_loop(q, k, v, segments), atol=ATOL, rtol=0)


def test_compiled_flex_reads_the_block_mask() -> None:
    # Flex's compiled CPU kernel (forward only) skips the tiles the block mask leaves out and
    # evaluates no mask in whole tiles: the one path on the CPU that uses our tiles.
    segments = layouts(160, seed=5)
    q, k, v, _ = (t.transpose(1, 2) for t in qkv(segments))
    want = F.scaled_dot_product_attention(
        q, k, v, attn_mask=dense_document_mask(segments), enable_gqa=True
    )
    block_mask = document_block_mask(segments, 32)
    compiled = torch.compile(flex_attention, dynamic=False)
    with torch.no_grad():
        got = compiled(q, k, v, block_mask=block_mask, enable_gqa=True)
        torch.testing.assert_close(got, want, atol=ATOL, rtol=0)
        # Without the whole tiles the kernel computes something else: it did read them.
        partial_only = flex_module.BlockMask.from_kv_blocks(
            block_mask.kv_num_blocks, block_mask.kv_indices, BLOCK_SIZE=32,
            mask_mod=block_mask.mask_mod, seq_lengths=(160, 160),
        )  # fmt: skip
        dropped = compiled(q, k, v, block_mask=partial_only, enable_gqa=True)
    assert (dropped - want).abs().max() > 0.1


# --- the model -----------------------------------------------------------------------------------

SMALL = ModelConfig(vocab_size=256, hidden=32, layers=2, heads=4, kv_heads=2, head_dim=8, mlp=64)


def test_model_kernels_are_interpreted() -> None:
    # Otherwise use_kernels=True below would raise on CPU tensors (or a fresh interpreter
    # is needed: run this file before anything that imports triton without the flag).
    assert _common.interpreting(rmsnorm._rms_norm_forward_kernel)


@pytest.mark.parametrize(("seq", "use_kernels"), [(96, False), (16, True)])
def test_model_backends_give_the_same_loss_and_gradients(
    seq: int, use_kernels: bool, flex_backward_on_cpu: None
) -> None:
    # With the PyTorch references, and (shorter: the interpreter is slow) with the kernels.
    segments = layouts(seq, seed=3)
    batch, seq = segments.shape
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(3, SMALL.vocab_size, (batch, seq), generator=gen)
    targets = torch.randint(3, SMALL.vocab_size, (batch, seq), generator=gen)
    weights = (torch.rand(batch, seq, generator=gen) > 0.2).float()
    starts = torch.ones_like(segments, dtype=torch.bool)
    starts[:, 1:] = segments[:, 1:] != segments[:, :-1]
    index = torch.arange(seq).expand(batch, seq)
    positions = index - torch.cummax(torch.where(starts, index, 0), dim=1).values
    results = {}
    for backend in ("dense", "flex", "varlen"):
        config = replace(SMALL, layers=1) if use_kernels else SMALL
        model = Transformer(config, seed=1, attention=backend, use_kernels=use_kernels)
        loss = model(ids, positions, segments, targets, weights)
        loss.backward()
        results[backend] = (loss.detach(), {n: p.grad for n, p in model.named_parameters()})
    want_loss, want_grads = results["dense"]
    for backend in ("flex", "varlen"):
        loss, grads = results[backend]
        torch.testing.assert_close(loss, want_loss, atol=ATOL, rtol=0)
        for name, grad in grads.items():
            torch.testing.assert_close(grad, want_grads[name], atol=ATOL, rtol=1e-4, msg=name)
    assert want_grads["blocks.0.attn.wq.weight"].abs().sum() > 0


def test_auto_is_dense_on_the_cpu() -> None:
    segments = layouts(64)
    assert document_mask(segments, "auto").backend == "dense"
    assert attention.resolve_backend("auto", torch.device("cuda")) == "flex"
    with pytest.raises(ValueError, match="attention backend"):
        Transformer(SMALL, attention="sparse")


def test_compiled_block_has_no_graph_break_and_no_recompile() -> None:
    # The kernels are custom ops: the block compiles as one graph (fullgraph=True fails on a
    # break), gives what the eager block gives, and another document layout of the same shape
    # runs the same graph. aot_eager traces exactly as inductor would, without generating code.
    torch._dynamo.reset()
    block = Block(SMALL, use_kernels=True)
    compiled = torch.compile(block, fullgraph=True, backend="aot_eager")
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(4, 16, SMALL.hidden, generator=gen)
    dy = torch.randn(4, 16, SMALL.hidden, generator=gen)

    def step(module, segments):
        positions = torch.arange(16).expand(4, 16)
        xi = x.clone().requires_grad_()
        y = module(xi, positions, document_mask(segments, "dense"))
        (y * dy).sum().backward()
        grads = [p.grad.clone() for p in block.parameters()]
        block.zero_grad()
        return y.detach(), xi.grad, grads

    first, second = layouts(16, seed=1), layouts(16, seed=2)
    assert not torch.equal(first, second)
    eager = step(block, first)
    got = step(compiled, first)
    torch.testing.assert_close(got[0], eager[0], atol=ATOL, rtol=0)
    torch.testing.assert_close(got[1], eager[1], atol=ATOL, rtol=0)
    for a, b in zip(got[2], eager[2], strict=True):
        torch.testing.assert_close(a, b, atol=ATOL, rtol=1e-4)
    with torch.compiler.set_stance("fail_on_recompile"):
        again = step(compiled, second)
    torch.testing.assert_close(again[0], step(block, second)[0], atol=ATOL, rtol=0)


def test_compiled_flex_block_does_not_recompile_for_a_new_layout() -> None:
    # The block mask and its mask_mod (a new closure over new segment ids each batch) are
    # graph inputs, not constants: a new layout reuses the graph.
    torch._dynamo.reset()
    block = Block(SMALL, use_kernels=True)
    compiled = torch.compile(block, fullgraph=True, backend="aot_eager")
    x = torch.randn(4, 16, SMALL.hidden)
    positions = torch.arange(16).expand(4, 16)
    with torch.no_grad():
        for seed, stance in ((1, "default"), (2, "fail_on_recompile"), (3, "fail_on_recompile")):
            segments = layouts(16, seed=seed)
            with torch.compiler.set_stance(stance):
                got = compiled(x, positions, document_mask(segments, "flex", block_size=32))
            want = block(x, positions, document_mask(segments, "dense"))
            torch.testing.assert_close(got, want, atol=ATOL, rtol=0)


# --- benchmarks/gpu.sh and benchmarks/trainer.py -------------------------------------------------


def test_gpu_script_runs_its_cpu_check(tmp_path) -> None:
    # benchmarks/gpu.sh needs a GPU for real; CPU_CHECK=1 runs its attention, throughput and
    # curves steps on a tiny model on the CPU, through the same shell script, Python entry
    # points and train() calls, so the script a GPU session runs cannot rot here.
    import json
    import subprocess
    import sys

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from conftest import REPO

    from heed.common.tokens import TOKENS_SCHEMA

    tokens = tmp_path / "tokens"
    tokens.mkdir()
    rng = np.random.default_rng(0)
    for part in range(2):  # the last part file is the curves' held-out set
        docs = [[1, *(3 + rng.integers(0, 500, rng.integers(20, 200))).tolist(), 2]
                for _ in range(40)]  # fmt: skip
        table = pa.table(
            {"id": [f"<urn:{part}:{i}>" for i in range(40)], "tokens": docs,
             "num_tokens": [len(d) for d in docs]},
            schema=TOKENS_SCHEMA,
        )  # fmt: skip
        pq.write_table(table, tokens / f"part-{part:05d}.parquet", row_group_size=8)
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.update(CPU_CHECK="1", TOKENS=str(tokens), PYTHON=sys.executable)
    done = subprocess.run(
        ["bash", "benchmarks/gpu.sh", str(out), "attention", "throughput", "curves"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    log = (out / "log.txt").read_text() if (out / "log.txt").is_file() else ""
    assert done.returncode == 0, done.stdout + log[-5000:]
    results = (out / "results.md").read_text()
    for heading in ("## Document-masked attention", "## Trainer throughput", "## Loss curves"):
        assert heading in results, heading
    verified = [line for line in results.splitlines() if line.startswith(("| flex", "| varlen"))]
    assert len(verified) == 2 and all(line.endswith("| pass |") for line in verified)
    rows = json.loads((out / "throughput.json").read_text())
    assert [r["variant"] for r in rows] == ["dense-eager", "flex-compiled"]
    assert not any("failed" in r for r in rows)
    # The same seed and batches: the two attention paths start from the same loss; the
    # compiled model is one graph shared by every block, with no break.
    assert abs(rows[0]["loss_step1"] - rows[1]["loss_step1"]) < 1e-4
    assert rows[1]["graph_breaks"] == 0 and rows[1]["unique_graphs"] == 1
    curves = json.loads((out / "curves.json").read_text())["runs"]
    assert len(curves) == 2 and all(len(run["loss"]) == 4 for run in curves.values())
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if not torch.cuda.is_available():  # (with one, this would be the real benchmark)
        refused = subprocess.run(
            [sys.executable, "benchmarks/trainer.py", "throughput"], cwd=REPO, env=env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert refused.returncode == 2 and "needs a CUDA device" in refused.stderr
