"""The training loop: one process, or many under torchrun (DDP, or FSDP2 for the big sizes).

    python -m heed.training.cli train configs/train-tiny.toml               # one process
    torchrun --nproc_per_node 8 -m heed.training.cli train configs/train-1b.toml

Each optimizer step takes the global batch (data.batch_size sequences) as micro-batches of
data.micro_batch_size per rank. The loss is the mean over every kept target of the whole
global batch: the kept count is summed over micro-batches and ranks *before* the backward
passes, and each micro-batch's mean is rescaled by its share of it. So the loss and the
gradient are the same however the batch is split over ranks and micro-batches (the tests
compare one process against two).

Checkpoints hold the model, the optimizer, the step (the schedule is a function of it), every
loader stream's position and every rank's RNG state, and are written to a temporary name and
renamed into place, then named in `checkpoints/latest` (also atomically): a crash leaves the
previous checkpoint whole. Under FSDP2 each rank writes its own shards through
torch.distributed.checkpoint into a temporary folder that is renamed in the same way.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from heed.common.files import write_atomic
from heed.training.config import TrainConfig, TrainConfigError
from heed.training.data import Batch, TokenLoader, merge_states, token_files
from heed.training.data import check_manifest as check_token_manifest
from heed.training.flops import attention_pairs, peak_flops, step_flops
from heed.training.model import Transformer
from heed.training.optim import build_optimizer, wsd_lr

CHECKPOINTS = "checkpoints"
LATEST = "latest"
METRICS = "metrics.jsonl"


@dataclass
class Runtime:
    """Where this process runs: its rank among `world` and its device."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def init_runtime(config: TrainConfig) -> Runtime:
    """Join the process group torchrun describes (WORLD_SIZE, RANK, ...), if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    want = config.run.device
    if want == "cuda" and not torch.cuda.is_available():
        raise TrainConfigError("run.device = 'cuda' but no CUDA device is visible")
    cuda = want != "cpu" and torch.cuda.is_available()
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    return Runtime(rank, world, local, device)


def autocast_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """bf16 autocast on CUDA (precision auto or bf16), none on the CPU or with fp32."""
    precision = config.run.precision
    if precision == "bf16" and device.type != "cuda":
        raise TrainConfigError("run.precision = 'bf16' needs CUDA; use 'auto' or 'fp32'")
    if device.type == "cuda" and precision in ("auto", "bf16"):
        return torch.bfloat16
    return None


def data_files(config: TrainConfig) -> tuple[list[Path], list[Path]]:
    """(training files, held-out files): the held-out ones named by data.eval_files."""
    files = token_files([config.path(t) for t in config.data.tokens])
    held_out = []
    for name in config.data.eval_files:
        found = [f for f in files if f.name == name or f == config.path(name)]
        if not found and config.path(name).is_file():
            found = [config.path(name)]
        if not found:
            raise TrainConfigError(f"data.eval_files: {name!r} is not among {config.data.tokens}")
        held_out.extend(found)
    train = [f for f in files if f not in held_out]
    if not train:
        raise TrainConfigError("data: every file is held out for evaluation")
    check_token_manifest(files + held_out, config.data.tokenizer_sha256 or None)
    return train, held_out


def use_fsdp(config: TrainConfig, runtime: Runtime) -> bool:
    """FSDP2 when asked (run.fsdp "on", or "auto" for the 1b and 8b sizes) on several ranks;
    one process has nothing to shard over."""
    if not runtime.distributed or config.run.fsdp == "off":
        return False
    return config.run.fsdp == "on" or config.model.get("size") in ("1b", "8b")


def build_model(config: TrainConfig, runtime: Runtime, dtype: torch.dtype | None) -> Any:
    """The model on its device, initialised from run.seed, wrapped for the ranks.

    Built on the meta device (no memory), sharded first under FSDP2, then materialised and
    initialised: an 8B model never exists whole on one rank.
    """
    with torch.device("meta"):
        model = Transformer(config.model_config(), attention=config.run.attention)
    fsdp = use_fsdp(config, runtime)
    if config.run.compile:
        # Per block, in place (state_dict keys unchanged): every block has the same code and
        # shapes, so they share one compiled graph. The kernels are custom ops, one node each
        # in it; FlexAttention's kernel is generated here.
        for block in model.blocks:
            block.compile()
    if fsdp:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        policy = MixedPrecisionPolicy(param_dtype=dtype, reduce_dtype=torch.float32)
        for block in model.blocks:
            fully_shard(block, mp_policy=policy)
        fully_shard(model, mp_policy=policy)
    model.to_empty(device=runtime.device)
    model.reset_parameters(config.run.seed)
    return model


def wrap_ddp(model: torch.nn.Module, runtime: Runtime, fsdp: bool) -> torch.nn.Module:
    if not runtime.distributed or fsdp:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [runtime.device.index] if runtime.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def unwrap(model: torch.nn.Module) -> Transformer:
    return getattr(model, "module", model)


def all_sum(value: torch.Tensor, runtime: Runtime) -> torch.Tensor:
    if runtime.distributed:
        value = value.clone()
        dist.all_reduce(value)
    return value


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: list[Batch],
    runtime: Runtime,
    dtype: torch.dtype | None,
    clip: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One optimizer step over this rank's micro-batches; returns (loss, grad norm, kept)
    as 0-dim tensors on the device, so that nothing here waits for the GPU.

    The loss is the mean over the kept targets of the global batch (see the module doc).
    """
    batches = [b.to(runtime.device) for b in batches]  # all copies queued up front
    kept = [b.kept for b in batches]
    total = all_sum(torch.stack(kept).sum(), runtime)
    denominator = total.clamp(min=1)
    loss_sum = torch.zeros((), device=runtime.device)
    fsdp = hasattr(model, "set_requires_gradient_sync")
    for i, batch in enumerate(batches):
        last = i == len(batches) - 1
        if fsdp:
            model.set_requires_gradient_sync(last)
            sync = contextlib.nullcontext()
        elif hasattr(model, "no_sync") and not last:
            sync = model.no_sync()
        else:
            sync = contextlib.nullcontext()
        b = batch
        with sync, torch.autocast(runtime.device.type, dtype=dtype, enabled=dtype is not None):
            mean = model(b.input_ids, b.positions, b.segments, b.targets, b.weights)
            # DDP and FSDP average gradients over ranks: × world undoes it, so the summed
            # gradient is that of sum(w · loss) / (kept over all ranks).
            share = kept[i] / denominator * runtime.world
            (mean * share).backward()
        loss_sum += mean.detach().float() * kept[i]
    loss = all_sum(loss_sum, runtime) / denominator
    if clip > 0:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    else:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    norm = norm.full_tensor() if hasattr(norm, "full_tensor") else norm
    return loss, norm, total


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    files: list[Path],
    config: TrainConfig,
    runtime: Runtime,
    dtype: torch.dtype | None,
) -> float:
    """Mean loss over the held-out files' targets (no Goldfish), all ranks together.

    Every rank runs the same number of forward passes (FSDP2 needs all of them in each):
    one whose share has run out feeds padding until every rank's has.
    """
    loader = TokenLoader(
        files, config.data.seq_len, config.data.micro_batch_size, streams=runtime.world,
        rank=runtime.rank, world_size=runtime.world, shuffle=False, epochs=1,
        vocab_size=config.model_config().vocab_size,
    )  # fmt: skip
    total = torch.zeros(2, device=runtime.device, dtype=torch.float64)
    batches = 0
    while True:
        batch = next(loader, None)
        more = all_sum(torch.tensor(float(batch is not None), device=runtime.device), runtime)
        if more == 0 or (config.data.eval_batches and batches >= config.data.eval_batches):
            break
        b = (batch or loader.padding_batch()).to(runtime.device)
        with torch.autocast(runtime.device.type, dtype=dtype, enabled=dtype is not None):
            mean = model(b.input_ids, b.positions, b.segments, b.targets, b.weights)
        total += torch.stack([mean.double() * b.kept, b.kept.double()])
        batches += 1
    total = all_sum(total, runtime)
    return float(total[0] / total[1].clamp(min=1))


# --- checkpoints ---------------------------------------------------------------------------


def _gather(obj: Any, runtime: Runtime) -> list[Any]:
    if not runtime.distributed:
        return [obj]
    out: list[Any] = [None] * runtime.world
    dist.all_gather_object(out, obj)
    return out


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def save_checkpoint(
    out: Path,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: TokenLoader,
    config: TrainConfig,
    runtime: Runtime,
    fsdp: bool,
) -> Path:
    """Write checkpoint `step` atomically and point `latest` at it; keep the last few."""
    folder = out / CHECKPOINTS
    loaders = _gather(loader.state_dict(), runtime)
    rngs = _gather(_rng_state(), runtime)
    meta = {
        "step": step,
        "loader": merge_states(loaders),
        "rng": rngs,
        "world": runtime.world,
        "config": config.to_dict(),
        "model_config": unwrap(model).config.to_dict(),
    }
    if fsdp:
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import get_state_dict

        name = f"step-{step:08d}"
        tmp = folder / f".{name}.tmp"
        if runtime.main:
            shutil.rmtree(tmp, ignore_errors=True)
            folder.mkdir(parents=True, exist_ok=True)
        dist.barrier()
        model_state, optim_state = get_state_dict(model, optimizer)
        dcp.save({"model": model_state, "optim": optim_state}, checkpoint_id=str(tmp))
        if runtime.main:
            torch.save(meta, tmp / "meta.pt")
            os.replace(tmp, folder / name)
    else:
        name = f"step-{step:08d}.pt"
        if runtime.main:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{name}.tmp"
            state = {
                **meta,
                "model": unwrap(model).state_dict(),
                "optimizer": optimizer.state_dict(),
            }
            torch.save(state, tmp)
            os.replace(tmp, folder / name)
    if runtime.main:
        write_atomic(folder / LATEST, name + "\n")
        kept = sorted(p for p in folder.glob("step-*") if not p.name.startswith("."))
        for old in kept[: -max(config.run.keep_checkpoints, 1)]:
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    if runtime.distributed:
        dist.barrier()
    return folder / name


def latest_checkpoint(out: Path) -> Path | None:
    pointer = out / CHECKPOINTS / LATEST
    if not pointer.is_file():
        return None
    return out / CHECKPOINTS / pointer.read_text(encoding="utf-8").strip()


def read_meta(path: Path) -> dict[str, Any]:
    """A checkpoint's step, loader and RNG states, configs (no tensors of the model)."""
    if path.is_dir():
        return torch.load(path / "meta.pt", map_location="cpu", weights_only=True)
    return torch.load(path, map_location="cpu", weights_only=True)


def load_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: TokenLoader,
    runtime: Runtime,
    fsdp: bool,
) -> int:
    """Restore a checkpoint into a freshly built model/optimizer/loader; returns its step."""
    meta = read_meta(path)
    if fsdp:
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

        model_state, optim_state = get_state_dict(model, optimizer)
        state = {"model": model_state, "optim": optim_state}
        dcp.load(state, checkpoint_id=str(path))
        set_state_dict(
            model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"]
        )
    else:
        unwrap(model).load_state_dict(meta["model"])
        optimizer.load_state_dict(meta["optimizer"])
    loader.load_state_dict(meta["loader"])
    # The same rank's RNG where the world is the same size; rank 0's otherwise.
    rng = meta["rng"][runtime.rank] if meta["world"] == runtime.world else meta["rng"][0]
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and runtime.device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"])
    return int(meta["step"])


def checkpoint_path(path: str | Path) -> Path:
    """A checkpoint file or folder as given, or a run folder's latest checkpoint."""
    path = Path(path)
    if path.is_dir() and (path / CHECKPOINTS).is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise FileNotFoundError(f"{path}: no checkpoint")
        return found
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    return path


def load_model_and_meta(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[Transformer, dict[str, Any]]:
    """A checkpoint's model, whole, on one device, and its metadata (step, configs)."""
    from heed.training.model import ModelConfig

    path = checkpoint_path(path)
    meta = read_meta(path)
    model = Transformer(ModelConfig(**meta["model_config"]))
    if path.is_dir():  # sharded (FSDP2): the model's part of it, read into one process
        import torch.distributed.checkpoint as dcp

        state = {"model": model.state_dict()}
        with warnings.catch_warnings():  # "assuming the intent is to load in a single process"
            warnings.filterwarnings("ignore", message=".*load in a single process")
            dcp.load(state, checkpoint_id=str(path))
        model.load_state_dict(state["model"])
    else:
        model.load_state_dict(meta.pop("model"))
        meta.pop("optimizer", None)
    return model.to(device).eval(), meta


def load_model(path: str | Path, device: str | torch.device = "cpu") -> Transformer:
    """A checkpoint's model (a checkpoint file or folder, or a run folder: its latest)."""
    return load_model_and_meta(path, device)[0]


# --- the loop ------------------------------------------------------------------------------


def _log(runtime: Runtime, message: str) -> None:
    if runtime.main:
        print(message, flush=True)


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    stop_after: int | None = None,
    on_batch: Callable[[int, int, Batch], None] | None = None,
) -> list[dict[str, Any]]:
    """Train as the config says; returns one record per step (loss, lr, ...) done here.

    resume: continue from the run folder's latest checkpoint (an error if there is none);
    without it, a run folder that already holds checkpoints is an error. stop_after: stop
    (with a checkpoint) after that step, leaving the schedule as for the whole run.
    on_batch(step, micro_index, batch) sees every micro-batch this rank trains on.
    """
    runtime = init_runtime(config)
    out = config.path(config.run.out)
    dtype = autocast_dtype(config, runtime.device)
    model_config = config.model_config()
    world, micro = runtime.world, config.data.micro_batch_size
    if config.data.batch_size % (micro * world):
        raise TrainConfigError(
            f"data.batch_size ({config.data.batch_size}) must be a multiple of "
            f"micro_batch_size × ranks ({micro} × {world})"
        )
    accum = config.data.batch_size // (micro * world)
    train_files, eval_files = data_files(config)
    goldfish = config.goldfish
    loader = TokenLoader(
        train_files, config.data.seq_len, micro, streams=config.data.streams or world,
        rank=runtime.rank, world_size=world, seed=config.data.seed,
        goldfish=(goldfish.k, goldfish.h, goldfish.mode) if goldfish.k > 0 else None,
        vocab_size=model_config.vocab_size,
    )  # fmt: skip
    fsdp = use_fsdp(config, runtime)
    model = build_model(config, runtime, dtype if fsdp else None)
    steps = config.schedule.steps
    opt = config.optim
    optimizer = build_optimizer(
        model, opt.name, lr=opt.lr, betas=tuple(opt.betas), alpha=opt.alpha, eps=opt.eps,
        weight_decay=opt.weight_decay,
        warmup=steps if opt.ademamix_warmup < 0 else opt.ademamix_warmup,
    )  # fmt: skip
    step = 0
    existing = latest_checkpoint(out)
    if resume:
        if existing is None:
            raise TrainConfigError(f"--resume: no checkpoint in {out / CHECKPOINTS}")
        step = load_checkpoint(existing, model, optimizer, loader, runtime, fsdp)
        _log(runtime, f"resumed from {existing} at step {step}")
    elif existing is not None:
        raise TrainConfigError(
            f"{out} already holds checkpoints: pass --resume, or choose another run.out"
        )
    model = wrap_ddp(model, runtime, fsdp)
    if runtime.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(config.to_dict(), indent=1) + "\n")

    n_params = unwrap(model).num_params(embedding=False)
    peak = peak_flops(runtime.device)
    tokens_per_step = config.data.batch_size * config.data.seq_len
    cooldown = round(config.schedule.cooldown * steps)
    _log(
        runtime,
        f"model {config.model.get('size', 'tiny')}: {unwrap(model).num_params() / 1e6:.1f}M "
        f"parameters ({n_params / 1e6:.1f}M without the input embedding) | {world} rank(s) "
        f"on {runtime.device.type}{' FSDP2' if fsdp else ' DDP' if runtime.distributed else ''}"
        f" | {len(loader.units)} row groups | {tokens_per_step:,} tokens/step × {steps} steps",
    )
    history: list[dict[str, Any]] = []
    metrics = (out / METRICS).open("a", encoding="utf-8") if runtime.main else None
    last_stop = stop_after if stop_after is not None else steps
    if eval_files and step == 0 and config.run.eval_every:
        # Where the run starts from, for comparison (ln V for a fresh model).
        start_loss = evaluate(model, eval_files, config, runtime, dtype)
        _log(runtime, f"step {0:>6} | eval loss {start_loss:.4f}")
        if metrics is not None:
            metrics.write(json.dumps({"step": 0, "eval_loss": start_loss}) + "\n")
    layers, heads, head_dim = model_config.layers, model_config.heads, model_config.head_dim
    pending: list[dict[str, Any]] = []  # steps whose loss (a GPU tensor) is not read yet
    window_start, window_tokens, window_pairs, window_losses = time.perf_counter(), 0, 0, []
    try:
        while step < min(steps, last_stop):
            lr = wsd_lr(
                step, opt.lr, steps, config.schedule.warmup, cooldown,
                config.schedule.final_fraction,
            )  # fmt: skip
            for group in optimizer.param_groups:
                group["lr"] = lr
            batches = [next(loader) for _ in range(accum)]
            if on_batch is not None:
                for i, batch in enumerate(batches):
                    on_batch(step + 1, i, batch)
            window_pairs += sum(attention_pairs(b.segments) for b in batches)
            loss, norm, kept = train_step(model, optimizer, batches, runtime, dtype, opt.clip)
            step += 1
            window_tokens += tokens_per_step
            pending.append({"step": step, "loss": loss, "lr": lr, "grad_norm": norm, "kept": kept})
            every_log, every_eval = config.run.log_every, config.run.eval_every
            every_checkpoint = config.run.checkpoint_every
            log_now = step % every_log == 0 or step == last_stop or step == 1
            eval_now = bool(eval_files) and (
                (every_eval and step % every_eval == 0) or step == steps
            )
            checkpoint_now = every_checkpoint >= 0 and (
                (every_checkpoint and step % every_checkpoint == 0) or step in (steps, last_stop)
            )
            if not (log_now or eval_now or checkpoint_now):
                continue
            # Reading the losses waits for the GPU: once per log line, not once per step, so
            # that the host can queue the next step's work while the GPU runs this one.
            records = [_read(r, tokens_per_step) for r in pending]
            pending.clear()
            window_losses += [r["loss"] for r in records]
            record = records[-1]
            if log_now:
                if runtime.device.type == "cuda":
                    torch.cuda.synchronize()
                elapsed = time.perf_counter() - window_start
                rate = window_tokens / elapsed
                pairs = float(all_sum(torch.tensor(float(window_pairs), device=runtime.device),
                                      runtime))  # fmt: skip
                flops = step_flops(n_params, layers, heads, head_dim, window_tokens, pairs)
                record["tokens_per_s"] = rate
                record["tflops_per_device"] = flops / elapsed / world / 1e12
                mfu = flops / elapsed / (peak * world) if peak else None
                record["mfu"] = mfu
                if runtime.device.type == "cuda":
                    record["max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
                # The mean since the last line: one small batch's loss is a noisy figure.
                mean = sum(window_losses) / len(window_losses)
                _log(
                    runtime,
                    f"step {step:>6}/{steps} | loss {mean:.4f} | lr {lr:.2e} | gnorm "
                    f"{record['grad_norm']:.3f} | {rate:,.0f} tok/s | MFU "
                    f"{f'{100 * mfu:.1f}%' if mfu is not None else 'n/a'} | kept "
                    f"{100 * record['kept']:.1f}%",
                )
                window_start, window_tokens, window_pairs = time.perf_counter(), 0, 0
                window_losses = []
            if eval_now:
                record["eval_loss"] = evaluate(model, eval_files, config, runtime, dtype)
                _log(runtime, f"step {step:>6} | eval loss {record['eval_loss']:.4f}")
                window_start = time.perf_counter()
            if checkpoint_now:
                path = save_checkpoint(out, step, model, optimizer, loader, config, runtime, fsdp)
                _log(runtime, f"step {step:>6} | checkpoint {path}")
                window_start = time.perf_counter()
            history.extend(records)
            if metrics is not None:
                for r in records:
                    metrics.write(json.dumps(r) + "\n")
                metrics.flush()
    finally:
        if metrics is not None:
            metrics.close()
    return history


def _read(record: dict[str, Any], tokens_per_step: int) -> dict[str, Any]:
    """A step's record with its tensors read as numbers; a non-finite loss stops the run."""
    loss = float(record["loss"])
    if not math.isfinite(loss):
        raise FloatingPointError(f"step {record['step']}: loss {loss}")
    return {
        **record,
        "loss": loss,
        "grad_norm": float(record["grad_norm"]),
        "kept": float(record["kept"]) / tokens_per_step,
    }


def main_train(config_path: str, *, resume: bool = False, stop_after: int | None = None) -> int:
    """`heed train CONFIG`: exit status 0 when the run finished."""
    config = TrainConfig.load(config_path)
    try:
        train(config, resume=resume, stop_after=stop_after)
        if dist.is_initialized():
            # Every rank done before any tears the group down: a gloo rank that exits while
            # another is still in a collective aborts ("terminate called without an active
            # exception").
            dist.barrier()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main_train(sys.argv[1]))
