"""The hand-written twin of `modelspec train specs/mlp.yaml` for bench_train.py's whole-process row.

    python bench/train_handwritten.py DATA.npz RUN_DIR EPOCHS

The same model (784 -> 256 -> 128 -> 64 -> 10, ReLU, dropout 0.1), Adam 1e-3,
batch 128, 10% held out, and the same cadence as the library: validation
after every epoch, a metrics line, `best` when the validation loss improves,
`last` every epoch (model and optimiser tensors), the weights at the end.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file


def main() -> None:
    data, run, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(run, exist_ok=True)
    torch.manual_seed(0)
    with np.load(data) as z:
        x, y = torch.from_numpy(z["x"]), torch.from_numpy(z["y"])
    perm = torch.from_numpy(np.random.default_rng(0).permutation(len(x)))
    n_val = len(x) // 10
    xv, yv, xt, yt = x[perm[:n_val]], y[perm[:n_val]], x[perm[n_val:]], y[perm[n_val:]]
    layers: list[torch.nn.Module] = []
    width = x.shape[1]
    for h in (256, 128, 64):
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU(), torch.nn.Dropout(0.1)]
        width = h
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    best = float("inf")
    with open(os.path.join(run, "metrics.jsonl"), "w") as log:
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(len(xt))
            total = 0.0
            for i in range(0, len(xt), 128):
                idx = order[i: i + 128]
                loss = F.cross_entropy(model(xt.index_select(0, idx)), yt.index_select(0, idx))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            model.eval()
            vloss = vcorrect = 0.0
            with torch.no_grad():
                for i in range(0, len(xv), 128):
                    out = model(xv[i: i + 128])
                    vloss += F.cross_entropy(out, yv[i: i + 128], reduction="sum").item()
                    vcorrect += (out.argmax(-1) == yv[i: i + 128]).sum().item()
            row = {"epoch": epoch + 1, "train_loss": total / len(xt), "val_loss": vloss / len(xv),
                   "val_acc": vcorrect / len(xv)}
            log.write(json.dumps(row) + "\n")
            log.flush()
            tensors = {f"model.{k}": v.detach().numpy() for k, v in model.state_dict().items()}
            for pi, st in opt.state_dict()["state"].items():
                for key, val in st.items():
                    tensors[f"optim.{pi}.{key}"] = val.detach().numpy().reshape(val.shape)
            if row["val_loss"] < best:
                best = row["val_loss"]
                save_file(tensors, os.path.join(run, "best.safetensors"))
            save_file(tensors, os.path.join(run, "last.safetensors"))
    save_file({k: v.detach().numpy() for k, v in model.state_dict().items()}, os.path.join(run, "weights.safetensors"))


if __name__ == "__main__":
    main()
