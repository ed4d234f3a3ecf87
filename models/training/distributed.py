"""Several processes training one model, launched by torchrun (`torchrun --nproc_per_node=N main.py train`).

torchrun starts N copies of the command with RANK, WORLD_SIZE and LOCAL_RANK (plus MASTER_ADDR/PORT) set.
Each copy joins one process group (NCCL on CUDA, gloo on CPU; on CUDA it uses GPU cuda:LOCAL_RANK) and:

- takes a disjoint shard of every epoch's permutation. The permutation is the same on every rank (it is
  seeded by (seed, epoch)); it is padded by wrapping around to a multiple of the world size and rank r takes
  positions r, r + W, r + 2W, ... -- what `DistributedSampler(drop_last=False)` does -- so every rank runs
  the same number of steps and the collectives line up. --batch-size is per process: the effective batch is
  W times larger and an epoch has W times fewer steps.
- averages gradients across ranks right before every optimiser step (`Optimizer.register_step_pre_hook`,
  one coalesced all-reduce per optimiser). That is the mean DistributedDataParallel computes, and it works
  unchanged for the VAE's one optimiser and the GAN's two-step train_step, whose discriminator runs three
  times between two backwards (which DDP's reducer does not allow without wrapping each network).
  It does not overlap communication with the backward pass as DDP's buckets do; for models this size the
  all-reduce is a small share of a step.
- starts from rank 0's weights (broadcast), and averages buffers (batch-norm running statistics) at the end
  of every epoch and before every save, so every rank holds the same state dict.
Only rank 0 prints and writes checkpoints; the others wait at a barrier. Each rank draws its own noise
(seeded by seed and rank), so the GAN's fake batches differ across ranks.
"""
from __future__ import annotations

import datetime
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from latent_atlas.models.errors import ConfigError

TEST_HASH_DIR_VAR = "LATENT_ATLAS_TEST_HASH_DIR"   # tests only: each rank writes rank<r>.sha256 of its weights


@dataclass(frozen=True)
class DistributedContext:
    rank: int             # global rank, 0 .. world_size - 1
    world_size: int
    local_rank: int       # rank on this machine: picks the GPU
    backend: str          # "nccl" or "gloo"
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def torchrun_ranks(env=None) -> tuple[int, int, int] | None:
    """(rank, world_size, local_rank) from torchrun's variables, or None when not launched by it."""
    env = os.environ if env is None else env
    if "RANK" not in env or "WORLD_SIZE" not in env:
        return None
    try:
        rank, world = int(env["RANK"]), int(env["WORLD_SIZE"])
        local = int(env.get("LOCAL_RANK", rank))
    except ValueError:
        raise ConfigError(f"RANK={env.get('RANK')!r}, WORLD_SIZE={env.get('WORLD_SIZE')!r}, "
                          f"LOCAL_RANK={env.get('LOCAL_RANK')!r} must be integers (torchrun sets them)") from None
    if not (world >= 1 and 0 <= rank < world and local >= 0):
        raise ConfigError(f"RANK={rank}, WORLD_SIZE={world}, LOCAL_RANK={local} do not fit together")
    return rank, world, local


def init_distributed(device_request: str | None) -> DistributedContext | None:
    """Join torchrun's process group; None for a plain single-process run (or a world of one)."""
    ranks = torchrun_ranks()
    if ranks is None or ranks[1] == 1:
        return None
    rank, world, local = ranks
    request = device_request or "auto"
    use_cuda = request.startswith("cuda") or (request == "auto" and torch.cuda.is_available())
    if request not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"under torchrun use --device auto, cuda or cpu (each process takes "
                          f"cuda:LOCAL_RANK itself), not {request!r}")
    if use_cuda:
        if not torch.cuda.is_available():
            raise ConfigError("device 'cuda' is not available on this machine")
        if local >= torch.cuda.device_count():
            raise ConfigError(f"LOCAL_RANK {local} has no GPU: this machine has {torch.cuda.device_count()}; "
                              "start at most that many processes per node")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    backend = "nccl" if use_cuda else "gloo"
    dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=10),
                            **({"device_id": device} if use_cuda else {}))
    return DistributedContext(rank, world, local, backend, device)


def shutdown(ctx: DistributedContext | None) -> None:
    if ctx is not None and dist.is_initialized():
        dist.destroy_process_group()


def shard(order: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Rank's part of a permutation: padded by wrapping to a multiple of world_size, then every W-th item."""
    n = len(order)
    total = -(-n // world_size) * world_size
    if total > n:
        order = torch.cat([order, order[:total - n]])
    return order[rank:total:world_size]


def rank_seed(seed: int, rank: int, step: int = 0) -> int:
    """Noise seed for ranks > 0 (rank 0 keeps the run's seed, so a world of one is a plain run)."""
    return (seed * 1_000_003 + rank * 7_919 + step * 104_729) % (2 ** 63)


def install_gradient_averaging(optimizers: dict, world_size: int) -> list:
    """Before each optimiser step, replace every gradient it will use with the mean over all ranks."""
    def average(optimizer, _args, _kwargs):
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])     # one all-reduce instead of one per tensor
        dist.all_reduce(flat)
        flat.div_(world_size)
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()
    return [opt.register_step_pre_hook(average) for opt in optimizers.values()]


def broadcast_state(model: torch.nn.Module) -> None:
    """Every rank takes rank 0's parameters and buffers."""
    for tensor in [*model.parameters(), *model.buffers()]:
        dist.broadcast(tensor.data, src=0)


def average_buffers(model: torch.nn.Module, world_size: int) -> None:
    """Batch-norm running statistics differ per rank (each sees its own shard): average them."""
    for buf in model.buffers():
        if buf.is_floating_point():
            dist.all_reduce(buf.data)
            buf.data.div_(world_size)
        else:
            dist.broadcast(buf.data, src=0)   # counters such as num_batches_tracked agree already


def gather_rng_states(device: torch.device) -> dict[str, list[torch.Tensor]]:
    """Every rank's generator states, in rank order, for rank 0 to save: {"ranks": CPU states} and, when
    training on a GPU, {"cuda_ranks": CUDA states}. A collective: every rank must call it."""
    comm = device if dist.get_backend() == "nccl" else torch.device("cpu")   # NCCL moves CUDA tensors only
    states = {"ranks": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda_ranks"] = torch.cuda.get_rng_state(device)
    out = {}
    for key, state in states.items():
        mine = state.to(comm)
        gathered = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
        dist.all_gather(gathered, mine)
        out[key] = [t.cpu() for t in gathered]
    return out


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    dist.all_reduce(tensor)
    return tensor


def barrier() -> None:
    dist.barrier()


def state_hash(model: torch.nn.Module) -> str:
    """SHA-256 of every tensor of the state dict, in key order: equal hashes mean equal weights."""
    h = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        h.update(key.encode())
        h.update(tensor.detach().to("cpu").contiguous().numpy().tobytes())
    return h.hexdigest()


def write_test_hash(model: torch.nn.Module, rank: int) -> None:
    """Test hook: with LATENT_ATLAS_TEST_HASH_DIR set, write <dir>/rank<r>.sha256 of this rank's weights,
    so a test can check that every rank ended with identical weights. Nothing happens otherwise."""
    folder = os.environ.get(TEST_HASH_DIR_VAR)
    if folder:
        Path(folder, f"rank{rank}.sha256").write_text(state_hash(model) + "\n")
