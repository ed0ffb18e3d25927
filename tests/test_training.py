"""training/: the Goldfish mask against a loop over its formula, the loader (every token once,
no attention across documents, exact resume, sharding), AdEMAMix against a transcription of
its update, the WSD schedule, resume after a stop, and two ranks under torchrun (DDP and
FSDP2 on the CPU, gloo) against one process. Test shards are small `tokens/` Parquet files
written here with the README's schema; nothing depends on a pipeline run.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from conftest import REPO

from heed.common.tokens import TOKENS_SCHEMA
from heed.training.attention import dense_document_mask
from heed.training.config import TrainConfig, TrainConfigError
from heed.training.data import DataError, TokenLoader, check_manifest, token_files
from heed.training.goldfish import TABLE_SEED, TABLE_SIZE, goldfish_mask
from heed.training.memorization import memorization
from heed.training.model import SIZES, ModelConfig, Transformer, greedy_continue
from heed.training.optim import AdEMAMix, wsd_lr
from heed.training.train import load_model, train

BOS, EOS = 1, 2
VOCAB = 512


def random_docs(n: int, rng: np.random.Generator, max_len: int = 300) -> list[list[int]]:
    """BOS, 1..max_len ids, EOS. The ids are never 0 (padding), BOS or EOS, so documents can
    be told apart, and are drawn from a skewed distribution, so there is something to learn."""
    lengths = rng.integers(1, max_len, size=n)
    return [[BOS, *(3 + rng.geometric(0.05, size=k) % (VOCAB - 3)).tolist(), EOS] for k in lengths]


def write_shards(
    folder: Path, docs: list[list[int]], files: int = 3, row_group: int = 7
) -> list[Path]:
    """tokens/part-NNNNN.parquet files with the README's schema, several row groups each."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for f, part in enumerate(np.array_split(np.arange(len(docs)), files)):
        rows = [docs[i] for i in part]
        table = pa.table(
            {
                "id": [f"<urn:doc:{i}>" for i in part],
                "tokens": rows,
                "num_tokens": [len(r) for r in rows],
            },
            schema=TOKENS_SCHEMA,
        )
        path = folder / f"part-{f:05d}.parquet"
        pq.write_table(table, path, row_group_size=row_group)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> tuple[list[Path], list[list[int]]]:
    docs = random_docs(120, np.random.default_rng(1))
    return write_shards(tmp_path_factory.mktemp("shards") / "tokens", docs), docs


# --- Goldfish ----------------------------------------------------------------------------------


def goldfish_by_loop(labels: list[int], k: int, h: int) -> list[bool]:
    """The Apertus formula (training/goldfish.py's docstring), one target at a time, in
    Python integers: True = kept."""
    generator = torch.Generator().manual_seed(2971215073)
    table = torch.rand(1_000_003, generator=generator)
    keep = []
    for i in range(len(labels)):
        if i < h - 1:
            keep.append(True)
            continue
        product = 1
        for x in labels[i - h + 1 : i + 1]:
            # int64 multiplication that wraps on overflow: reduce mod 2^64, reinterpret as signed
            product = (product * x) % 2**64
            if product >= 2**63:
                product -= 2**64
        index = product % 1_000_003  # Python's % is non-negative here, as torch's is
        keep.append(not bool(table[index] < 1 / k))
    return keep


@pytest.mark.parametrize(("k", "h"), [(50, 50), (4, 13)])
def test_goldfish_apertus_equals_the_formula(k: int, h: int) -> None:
    rng = np.random.default_rng(k * 100 + h)
    labels = torch.from_numpy(rng.integers(0, 131_072, size=(3, 400)))
    mask = goldfish_mask(labels, k, h, mode="apertus")
    assert mask.dtype == torch.bool and mask.shape == labels.shape
    for row in range(labels.shape[0]):
        assert mask[row].tolist() == goldfish_by_loop(labels[row].tolist(), k, h)
    assert (TABLE_SIZE, TABLE_SEED) == (1_000_003, 2971215073)
    assert mask[:, : h - 1].all()  # the first h - 1 targets of each sample stay
    assert not mask.all()


def product_is_zero(windows: torch.Tensor) -> torch.Tensor:
    """Whether the int64 product of each window wraps to 0 (64 or more factors of two)."""
    twos = torch.zeros(windows.shape[:-1], dtype=torch.int64)
    x = windows.clone()
    for _ in range(17):  # token ids < 2^17
        even = (x % 2 == 0) & (x != 0)
        twos += even.sum(-1)
        x = torch.where(even, x // 2, x)
    return (twos >= 64) | (windows == 0).any(-1)


@pytest.mark.parametrize("mode", ["apertus", "rolling"])
@pytest.mark.parametrize(("k", "h"), [(50, 50), (4, 13)])
def test_goldfish_drops_about_one_in_k(mode: str, k: int, h: int) -> None:
    labels = torch.from_numpy(np.random.default_rng(7).integers(0, 131_072, size=(40, 2_000)))
    eligible = ~goldfish_mask(labels, k, h, mode)[:, h - 1 :]
    if mode == "apertus":
        # Windows whose product wraps to 0 all share table[0]: judge the others' rate.
        collapsed = product_is_zero(labels.unfold(-1, h, 1))
        assert collapsed.float().mean() < (0.2 if h == 50 else 0.01)
        assert eligible[collapsed].all() or not eligible[collapsed].any()
        eligible = eligible[~collapsed]
    rate = eligible.float().mean().item()
    sigma = math.sqrt((1 / k) * (1 - 1 / k) / eligible.numel())
    assert abs(rate - 1 / k) < 5 * sigma, (rate, 1 / k)


def test_rolling_hash_does_not_collapse_where_the_product_does() -> None:
    # Multiples of 8: the product of 50 of them has 150 factors of two, i.e. is 0 in int64,
    # so Apertus's hash sends every window to one entry; the rolling hash still spreads them.
    labels = torch.from_numpy(np.random.default_rng(3).integers(1, 16_384, size=(20, 1_000)) * 8)
    apertus = goldfish_mask(labels, 4, 50, "apertus")[:, 49:]
    assert apertus.all() or not apertus.any()
    rolling = goldfish_mask(labels, 4, 50, "rolling")[:, 49:]
    assert abs((~rolling).float().mean().item() - 0.25) < 0.02
    # And it is a function of the window: the same window gives the same decision anywhere.
    row = torch.cat([labels[0, :60], labels[1, :40], labels[0, :60]])[None]
    again = goldfish_mask(row, 4, 50, "rolling")[0]
    assert again[59].item() == again[159].item() == rolling[0, 10].item()


# --- the loader --------------------------------------------------------------------------------


def windows_by_stream(loader: TokenLoader) -> dict[int, list[np.ndarray]]:
    """Every window (seq_len + 1 tokens: inputs then the last target) of each owned stream."""
    out: dict[int, list[np.ndarray]] = {j: [] for j in loader.stream_ids}
    per_stream = loader.micro_batch // len(loader.stream_ids)
    for batch in loader:
        rows = torch.cat([batch.input_ids, batch.targets[:, -1:]], dim=1).numpy()
        for r, row in enumerate(rows):
            # Padding is id 0, which no test document holds.
            out[loader.stream_ids[r // per_stream]].append(np.where(row == 0, -1, row))
    return out


def documents_of(windows: list[np.ndarray]) -> list[tuple[int, ...]]:
    """Cut a stream's concatenated windows into documents at each BOS (padding removed)."""
    stream = np.concatenate(windows)
    stream = stream[stream >= 0]
    starts = np.flatnonzero(stream == BOS)
    return [tuple(d) for d in np.split(stream, starts)[1:]]


@pytest.mark.parametrize(("streams", "world"), [(1, 1), (3, 1), (2, 2)])
def test_loader_packs_every_token_once(shards, streams: int, world: int) -> None:
    files, docs = shards
    seen: list[tuple[int, ...]] = []
    per_rank = []
    for rank in range(world):
        loader = TokenLoader(
            files, 64, 2 * streams // world, streams=streams, rank=rank, world_size=world,
            seed=5, epochs=1,
        )  # fmt: skip
        got = [d for ws in windows_by_stream(loader).values() for d in documents_of(ws)]
        per_rank.append(set(got))
        seen.extend(got)
    assert sorted(seen) == sorted(tuple(d) for d in docs)  # each document whole, exactly once
    if world == 2:
        assert not per_rank[0] & per_rank[1] and per_rank[0] and per_rank[1]


def test_loader_streams_do_not_depend_on_the_rank_count(shards) -> None:
    files, _ = shards
    one = TokenLoader(files, 32, 4, streams=2, seed=3)
    ranks = [TokenLoader(files, 32, 2, streams=2, rank=r, world_size=2, seed=3) for r in (0, 1)]
    for _ in range(6):
        whole = next(one)
        parts = [next(r) for r in ranks]
        for a, *b in zip(whole.tensors(), *(p.tensors() for p in parts), strict=True):
            assert torch.equal(a, torch.cat(b))


def test_attention_stays_inside_documents(shards) -> None:
    files, _ = shards
    loader = TokenLoader(files, 96, 4, seed=2, epochs=1)
    boundaries = 0
    for batch in loader:
        tokens = torch.cat([batch.input_ids, batch.targets[:, -1:]], dim=1)[:, :-1]
        # Ground truth from the tokens alone: a document begins at each BOS; padding is last.
        truth = torch.where(tokens == 0, -1, torch.cumsum(tokens == BOS, dim=1))
        allowed = dense_document_mask(batch.segments)[:, 0]
        seq = tokens.shape[1]
        causal = torch.ones(seq, seq, dtype=torch.bool).tril()
        same = truth[:, :, None] == truth[:, None, :]
        assert torch.equal(allowed, same & causal)
        # Positions restart at each document; a target that starts a document is not trained.
        for row in range(tokens.shape[0]):
            for piece in truth[row].unique():
                where = (truth[row] == piece).nonzero().flatten()
                assert torch.equal(batch.positions[row, where], torch.arange(len(where)))
        starts = batch.targets == BOS
        assert not batch.weights[starts].any()
        boundaries += int(starts.sum())
    assert boundaries > 20


def test_packed_rows_compute_each_document_as_if_alone() -> None:
    torch.manual_seed(0)
    model = Transformer(ModelConfig(vocab_size=VOCAB, hidden=32, layers=2, heads=4, kv_heads=2))
    a = torch.randint(3, VOCAB, (20,))
    b = torch.randint(3, VOCAB, (30,))
    c = torch.randint(3, VOCAB, (20,))

    def hidden(*docs: torch.Tensor) -> torch.Tensor:
        ids = torch.cat(docs)[None]
        segments = torch.cat([torch.full((len(d),), i) for i, d in enumerate(docs)])[None]
        positions = torch.cat([torch.arange(len(d)) for d in docs])[None]
        return model.hidden_states(ids, positions, segments)[0]

    packed = hidden(a, b)
    torch.testing.assert_close(packed[20:], hidden(b), rtol=1e-5, atol=1e-5)
    assert torch.equal(hidden(c, b)[20:], packed[20:])  # another neighbour: bit for bit
    # Decoding a prompt in a left-padded batch gives what it gives alone.
    together = greedy_continue(model, [b, a], 5)
    assert torch.equal(together[1], greedy_continue(model, [a], 5)[0])


def test_loader_restores_its_position_exactly(shards) -> None:
    files, _ = shards

    def make() -> TokenLoader:
        return TokenLoader(files, 48, 4, streams=2, seed=9, goldfish=(4, 13, "rolling"))

    loader = make()
    for _ in range(23):  # past the first epoch of some streams (120 docs, ~18k tokens)
        next(loader)
    state = json.loads(json.dumps(loader.state_dict()))  # survives serialisation
    expected = [next(loader) for _ in range(30)]
    restored = make()
    restored.load_state_dict(state)
    for want, got in zip(expected, (next(restored) for _ in range(30)), strict=True):
        for a, b in zip(want.tensors(), got.tensors(), strict=True):
            assert torch.equal(a, b)
    assert not all(b.weights.all() for b in expected)  # Goldfish and boundaries left gaps


def test_loader_checks_manifest_schema_and_vocabulary(tmp_path: Path) -> None:
    files = write_shards(tmp_path / "run" / "tokens", random_docs(10, np.random.default_rng(0)))
    manifest = tmp_path / "run" / "manifest.json"
    check_manifest(files)  # no manifest: read as is
    manifest.write_text(json.dumps({"format_version": 2, "tokenizer": {"t.json": "ab"}}))
    with pytest.raises(DataError, match="format_version 2"):
        check_manifest(files)
    manifest.write_text(json.dumps({"format_version": 1, "tokenizer": {"t.json": "ab"}}))
    check_manifest(files, "ab")
    with pytest.raises(DataError, match="expects sha256 cd"):
        check_manifest(files, "cd")
    with pytest.raises(DataError, match="outside the model's vocabulary"):
        next(TokenLoader(files, 32, 1, vocab_size=100))
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"id": ["x"], "text": ["hello"]}), bad)
    with pytest.raises(DataError, match="no `tokens` list column"):
        TokenLoader(token_files([bad]), 32, 1)
    with pytest.raises(DataError, match="cannot feed 99 streams"):
        TokenLoader(files, 32, 99, streams=99)


# --- optimisation ------------------------------------------------------------------------------


def test_ademamix_matches_its_formula() -> None:
    torch.manual_seed(0)
    shapes = [(7, 5), (11,)]
    params = [torch.randn(s, requires_grad=True) for s in shapes]
    grads = [[torch.randn(s) for s in shapes] for _ in range(6)]
    lr, b1, b2, b3, alpha, eps, wd, warmup = 0.01, 0.9, 0.999, 0.9999, 8.0, 1e-8, 0.1, 4
    opt = AdEMAMix(params, lr=lr, betas=(b1, b2, b3), alpha=alpha, eps=eps, weight_decay=wd,
                   warmup=warmup)  # fmt: skip

    # The paper's schedulers (AdEMAMix, appendix), as written there: α linear; β3 linear in
    # f(β) = ln ½ / ln β − 1 (the EMA's half-life), from β1.
    def f(beta: float) -> float:
        return math.log(0.5) / math.log(beta) - 1

    def f_inv(t: float) -> float:
        return math.pow(0.5, 1 / (t + 1))

    theta = [p.detach().double().clone() for p in params]
    m1 = [torch.zeros_like(t) for t in theta]
    m2 = [torch.zeros_like(t) for t in theta]
    v = [torch.zeros_like(t) for t in theta]
    for t, step_grads in enumerate(grads, start=1):
        a = min(t / warmup, 1.0)
        alpha_t = a * alpha
        beta3_t = f_inv((1 - a) * f(b1) + a * f(b3)) if t < warmup else b3
        for i, g in enumerate(step_grads):
            g = g.double()
            m1[i] = b1 * m1[i] + (1 - b1) * g
            m2[i] = beta3_t * m2[i] + (1 - beta3_t) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            update = (m1[i] / (1 - b1**t) + alpha_t * m2[i]) / (
                torch.sqrt(v[i] / (1 - b2**t)) + eps
            )
            theta[i] = theta[i] - lr * (update + wd * theta[i])
            params[i].grad = step_grads[i].clone()
        opt.step()
        for p, want in zip(params, theta, strict=True):
            torch.testing.assert_close(p.detach().double(), want, rtol=1e-5, atol=1e-6)


def test_wsd_schedule() -> None:
    lrs = [wsd_lr(s, 1.0, total=100, warmup=10, cooldown=20) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(lr == 1.0 for lr in lrs[10:80])
    r = np.arange(1, 21) / 20
    np.testing.assert_allclose(lrs[80:], 0.1 + 0.9 * (1 - np.sqrt(r)))
    assert lrs[-1] == pytest.approx(0.1)
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))


# --- the loop ----------------------------------------------------------------------------------


def small_config(tokens: Path, out: Path, **sections: dict) -> TrainConfig:
    raw = {
        "data": {"tokens": [str(tokens)], "seq_len": 32, "batch_size": 4, "micro_batch_size": 2,
                 "streams": 2, "seed": 1},
        "goldfish": {"k": 4, "h": 13, "mode": "apertus"},
        "model": {"size": "tiny", "vocab_size": VOCAB, "hidden": 32, "layers": 2, "heads": 4,
                  "kv_heads": 2, "head_dim": 8, "mlp": 64},
        "optim": {"name": "ademamix", "lr": 3e-3, "ademamix_warmup": 4},
        "schedule": {"steps": 8, "warmup": 2, "cooldown": 0.5},
        "run": {"out": str(out), "device": "cpu", "log_every": 1, "eval_every": 0,
                "checkpoint_every": 3, "keep_checkpoints": 2},
    }  # fmt: skip
    for name, values in sections.items():
        raw[name] = {**raw[name], **values}
    return TrainConfig.from_dict(raw, base=out.parent)


def test_resume_continues_exactly(shards, tmp_path: Path) -> None:
    files, _ = shards
    tokens = files[0].parent
    whole = train(small_config(tokens, tmp_path / "whole"))
    assert len(whole) == 8 and whole[-1]["loss"] < whole[0]["loss"]
    first = train(small_config(tokens, tmp_path / "split"), stop_after=4)
    assert [r["step"] for r in first] == [1, 2, 3, 4]
    with pytest.raises(TrainConfigError, match="already holds checkpoints"):
        train(small_config(tokens, tmp_path / "split"))
    second = train(small_config(tokens, tmp_path / "split"), resume=True)
    assert [r["step"] for r in second] == [5, 6, 7, 8]
    assert [r["loss"] for r in first + second] == [r["loss"] for r in whole]
    assert [r["grad_norm"] for r in first + second] == [r["grad_norm"] for r in whole]
    kept = sorted(p.name for p in (tmp_path / "split" / "checkpoints").iterdir())
    assert kept == ["latest", "step-00000006.pt", "step-00000008.pt"]  # atomic names only


TORCHRUN_SCRIPT = """
import json, sys
import torch.distributed as dist
from heed.training.config import TrainConfig
from heed.training.train import load_model, train

config = TrainConfig.load(sys.argv[1])
rows = {}

def record(step, micro, batch):
    rows.setdefault(step, []).extend(batch.input_ids.tolist())

history = train(config, stop_after=int(sys.argv[3]), on_batch=record)
if sys.argv[3] != str(config.schedule.steps):
    history += train(config, resume=True, on_batch=record)
rank = dist.get_rank()
with open(f"{sys.argv[2]}.{rank}.json", "w") as out:
    json.dump({"loss": [r["loss"] for r in history], "rows": rows}, out)
dist.barrier()  # as main_train does: no rank tears the group down while another works
dist.destroy_process_group()
"""


def write_toml(path: Path, config: TrainConfig) -> Path:
    lines = []
    for name, section in config.to_dict().items():
        if isinstance(section, dict):
            lines.append(f"[{name}]")
            lines.extend(f"{k} = {json.dumps(v)}" for k, v in section.items())
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("fsdp", ["off", "on"])
def test_two_ranks_under_torchrun_match_one_process(shards, tmp_path: Path, fsdp: str) -> None:
    files, _ = shards
    tokens = files[0].parent
    steps = 6
    two = small_config(
        tokens, tmp_path / "two", schedule={"steps": steps}, run={"fsdp": fsdp},
        data={"micro_batch_size": 2},
    )  # fmt: skip
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(TORCHRUN_SCRIPT))
    # Under FSDP2 the run also stops at step 3 and resumes from its sharded checkpoint.
    stop = 3 if fsdp == "on" else steps
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone",
         "--nproc_per_node", "2", str(script), str(write_toml(tmp_path / "two.toml", two)),
         str(tmp_path / "result"), str(stop)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"result.{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["loss"] == ranks[1]["loss"]  # every rank logs the global loss

    # One process, the same global batch of 4 in a single micro-batch over both streams.
    one_rows: dict[int, list] = {}
    one = small_config(
        tokens, tmp_path / "one", schedule={"steps": steps}, data={"micro_batch_size": 4}
    )

    def record(step: int, micro: int, batch) -> None:
        one_rows.setdefault(step, []).extend(batch.input_ids.tolist())

    history = train(one, on_batch=record)
    np.testing.assert_allclose(ranks[0]["loss"], [r["loss"] for r in history], atol=1e-5, rtol=0)
    for step in range(1, steps + 1):
        r0, r1 = (ranks[r]["rows"][str(step)] for r in (0, 1))
        assert r0 + r1 == one_rows[step]  # the ranks split the global batch between them
        assert not {tuple(x) for x in r0} & {tuple(x) for x in r1}
    # The checkpoint the ranks wrote (sharded, through torch.distributed.checkpoint, under
    # FSDP2) loads whole and holds the weights the single process ended with.
    two_model = load_model(tmp_path / "two").state_dict()
    for name, value in load_model(tmp_path / "one").state_dict().items():
        torch.testing.assert_close(two_model[name], value, rtol=1e-4, atol=1e-5)
    assert (tmp_path / "two" / "checkpoints" / "step-00000006").is_dir() == (fsdp == "on")
    # Disjoint data over the whole run: no document reaches both ranks.
    docs = [set(documents_of([np.array(x) for s in sorted(rk["rows"], key=int)
                              for x in rk["rows"][s]])) for rk in ranks]  # fmt: skip
    assert not (docs[0] & docs[1])


# --- memorisation, configs and the command line ------------------------------------------------


class CountingModel(torch.nn.Module):
    """Predicts last token + 1: it "memorises" exactly the documents that count upwards."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    def forward(self, ids, positions, segments):
        return torch.nn.functional.one_hot((ids[:, -1] + 1) % VOCAB, VOCAB).float()


def test_memorization_measures_exact_and_partial_matches() -> None:
    counting = list(range(3, 103))  # 100 tokens that count upwards
    broken = counting[:80] + [7] * 20  # its last 20 tokens do not
    short = list(range(3, 40))
    result = memorization(CountingModel(), [counting, broken, short], suffix=50, context=256)
    assert result.documents == 2  # too short for a 16-token prefix and 50 tokens: skipped
    assert result.exact_match == 0.5
    assert result.token_match == pytest.approx((1 + 30 / 50) / 2)


def test_sizes() -> None:
    def count(size: str) -> int:
        with torch.device("meta"):
            return Transformer(SIZES[size]).num_params()

    assert count("8b") == pytest.approx(8.05e9, rel=0.01)  # Apertus-8B's size
    assert count("1b") == pytest.approx(1.24e9, rel=0.01)  # 0.70B of it in the blocks
    assert count("125m") == pytest.approx(0.277e9, rel=0.01)  # 75M of it in the blocks
    assert count("tiny") < 20e6
    configs = sorted((REPO / "configs").glob("train-*.toml"))
    assert [p.stem for p in configs] == [
        "train-125m-sample", "train-125m", "train-1b", "train-8b", "train-tiny"
    ]  # fmt: skip
    for path in configs:
        TrainConfig.load(path)  # every shipped config is valid
    with pytest.raises(TrainConfigError, match="unknown key 'learning_rate'"):
        TrainConfig.from_dict({"optim": {"learning_rate": 1.0}})
    model = Transformer(ModelConfig(vocab_size=VOCAB, hidden=32, heads=4, kv_heads=2))
    assert not any(name.endswith("bias") for name, _ in model.named_parameters())
    assert model.embed.weight.data_ptr() != model.lm_head.weight.data_ptr()


def test_command_line(shards, tmp_path: Path) -> None:
    files, _ = shards
    config = small_config(files[0].parent, tmp_path / "run", schedule={"steps": 3},
                          data={"eval_files": [files[-1].name]})  # fmt: skip
    path = write_toml(tmp_path / "c.toml", config)
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "heed.training.cli", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    done = cli("train", str(path))
    assert done.returncode == 0, done.stderr
    assert "eval loss" in done.stdout and "MFU n/a" in done.stdout
    again = cli("train", str(path))
    assert again.returncode == 2 and "--resume" in again.stderr
    memo = cli("memorization", str(tmp_path / "run"), str(files[0]), "--docs", "5",
               "--suffix", "8", "--json")  # fmt: skip
    assert memo.returncode == 0, memo.stderr
    result = json.loads(memo.stdout.splitlines()[-1])
    assert 1 <= result["documents"] <= 5 and 0 <= result["exact_match"] <= 1
    # heed's own parser takes the command through add_commands.
    import argparse

    from heed.training.cli import add_commands

    top = argparse.ArgumentParser()
    add_commands(top.add_subparsers())
    args = top.parse_args(["train", "memorization", "ckpt", "shards", "--docs", "3"])
    assert args.config == "memorization" and args.rest == ["ckpt", "shards", "--docs", "3"]
