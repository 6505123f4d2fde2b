"""Multi-process training under `torchrun`: process group, ranks, reductions.

`torchrun` sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; a
plain `modelspec train` sees none of them and runs as a world of one, with
every function here a cheap no-op.  Gloo serves CPUs, NCCL GPUs.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def main(self) -> bool:
        """Only the main process logs, draws progress bars and writes files."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def env_world() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def env_rank() -> int:
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def setup(device: str) -> Dist:
    """Join the process group when launched by torchrun; pick this process's device."""
    world = env_world()
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = device
    if device == "cuda":
        import torch

        if torch.cuda.device_count() > 1 or world > 1:
            torch.cuda.set_device(local % max(1, torch.cuda.device_count()))
            dev = f"cuda:{local % max(1, torch.cuda.device_count())}"
    if world > 1:
        import torch.distributed as td

        if not td.is_initialized():
            td.init_process_group(backend="nccl" if device == "cuda" else "gloo")
    return Dist(rank, world, local, dev)


def teardown(d: Dist, together: bool) -> None:
    """Leave the process group.

    ``together``: every process reached the end of the run by the same path (it
    finished, or all agreed to stop), so they meet at a barrier first and no
    process shuts its connections down while a peer still writes the final
    checkpoint over them; under load, a peer that left early aborted at exit
    (gloo's "terminate called without an active exception").  After an error
    that only some processes may have met, the barrier could wait for a peer
    that is gone, so the group is shut down at once.  Either way the native
    threads are joined here, not during interpreter shutdown.
    """
    if not d.active:
        return
    import torch.distributed as td

    if not td.is_initialized():
        return
    gc.collect()  # the DDP wrapper and its reducer (which hold the group) go before the group does
    if together:
        td.barrier()
    td.destroy_process_group()


def all_sum(d: Dist, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Element-wise sums over all processes (metric sums, counts)."""
    if not d.active or not values:
        return values
    import torch
    import torch.distributed as td

    keys = sorted(values)
    flat = [np.atleast_1d(np.asarray(values[k], dtype=np.float64)) for k in keys]
    buf = torch.from_numpy(np.concatenate(flat)).to(d.device)
    td.all_reduce(buf, op=td.ReduceOp.SUM)
    out, i = {}, 0
    host = buf.cpu().numpy()
    for k, f in zip(keys, flat):
        out[k] = host[i: i + f.size].reshape(np.shape(values[k]))
        i += f.size
    return out


def any_flags(d: Dist, flags: Sequence[int]) -> list[int]:
    """The maximum of each flag over all processes (stop requests, bad losses), so
    that every process leaves the loop at the same batch."""
    if not d.active:
        return list(flags)
    import torch
    import torch.distributed as td

    t = torch.tensor(list(flags), dtype=torch.int32, device=d.device)
    td.all_reduce(t, op=td.ReduceOp.MAX)
    return [int(v) for v in t.tolist()]


def all_gather(d: Dist, obj: Any) -> list[Any]:
    """Every process's ``obj`` (picklable), in rank order, on every process."""
    if not d.active:
        return [obj]
    import torch.distributed as td

    out: list[Any] = [None] * d.world
    td.all_gather_object(out, obj)
    return out


def barrier(d: Dist) -> None:
    if d.active:
        import torch.distributed as td

        td.barrier()


def wrap_ddp(d: Dist, model: Any) -> Any:
    """DistributedDataParallel around ``model`` when there are several processes."""
    if not d.active:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [d.local_rank] if d.device.startswith("cuda") else None
    return DDP(model, device_ids=ids)
