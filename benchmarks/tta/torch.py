"""PyTorch (eager): ``nn.Sequential`` of ``Linear``/``ReLU``/``Dropout`` for the MLP, of
circular ``Conv1d`` layers, a mean over positions, ``Dropout`` and ``Linear`` for the CNN;
``optim.AdamW`` with weight decay on the weights only, ``LambdaLR`` with the cosine
schedule stepped after every update, ``F.cross_entropy(label_smoothing=...)``, the batch
augmented with ``torch`` random numbers; seeds one after another."""

from __future__ import annotations

import numpy as np

from benchmarks.tta.common import Data, Monitor, Task, cosine_lr, job_result

PACKAGES = ("torch",)
IMPORTS = ("torch",)
HOW = (
    "nn.Sequential, optim.AdamW (decay on weights), LambdaLR cosine per update, "
    "F.cross_entropy; a Python loop over batches; seeds in turn"
)


def build(torch, task: Task, layers: list[dict], n_in: int):
    """The network of ``task`` holding funcnn's initial ``layers`` (torch stores a dense
    weight as ``(n_out, n_in)``, a convolution's as ``(c_out, c_in, k)``)."""
    nn = torch.nn

    def load(module, p, perm):
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(np.ascontiguousarray(p["w"].transpose(perm))))
            module.bias.copy_(torch.from_numpy(p["b"]))
        return module

    o = task.options
    mods: list = []
    if task.model == "mlp":
        for j, p in enumerate(layers):
            mods.append(load(nn.Linear(*p["w"].shape), p, (1, 0)))
            if j < len(layers) - 1:
                mods += [nn.ReLU(), nn.Dropout(o["dropout"])]
        return nn.Sequential(*mods)
    k = int(o["kernel_size"])
    mods.append(nn.Unflatten(1, (1, n_in)))  # (B, L) -> (B, 1, L)
    for p, s in zip(layers[:-1], o["strides"]):
        conv = nn.Conv1d(
            p["w"].shape[1], p["w"].shape[2], k, stride=s, padding=(k - 1) // 2,
            padding_mode="circular",
        )  # fmt: skip
        mods += [load(conv, p, (2, 1, 0)), nn.ReLU()]

    class MeanOverPositions(nn.Module):
        def forward(self, h):
            return h.mean(dim=2)

    mods += [MeanOverPositions(), nn.Dropout(o["dropout"])]
    mods.append(load(nn.Linear(*layers[-1]["w"].shape), layers[-1], (1, 0)))
    return nn.Sequential(*mods)


def augment(torch, x, aug: dict, gen):
    """MNIST-1D's augmentation of a batch ``(B, L)``: a circular shift of up to ``shift``,
    a scale ``1 + U(-scale, scale)`` per example, white noise of std ``noise``."""
    B, L = x.shape
    if aug.get("shift"):
        s = torch.randint(-aug["shift"], aug["shift"] + 1, (B, 1), generator=gen)
        x = torch.gather(x, 1, (torch.arange(L)[None, :] - s) % L)
    if aug.get("scale"):
        x = x * (1.0 + (torch.rand((B, 1), generator=gen) * 2.0 - 1.0) * aug["scale"])
    if aug.get("noise"):
        x = x + aug["noise"] * torch.randn(x.shape, generator=gen)
    return x


def train(task: Task, data: Data, t0: float) -> dict:
    import torch
    import torch.nn.functional as F

    run, aug = task.run, task.run.get("augment")
    xtr, ytr = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train.astype(np.int64))
    xte, yte = torch.from_numpy(data.x_test), torch.from_numpy(data.y_test.astype(np.int64))
    B, epochs = int(run["batch_size"]), int(run["epochs"])
    n_batches = data.orders.shape[2] // B
    lr_at = cosine_lr(run, n_batches)

    def factor(k):  # LambdaLR's multiplier of the base rate at update k
        return lr_at(k) / float(run["lr"])

    results, n_params = [], None
    for i, seed in enumerate(task.seeds):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        net = build(torch, task, data.layers(i), data.x_train.shape[1])
        n_params = sum(p.numel() for p in net.parameters())
        decay = [p for n, p in net.named_parameters() if n.endswith("weight")]
        rest = [p for n, p in net.named_parameters() if not n.endswith("weight")]
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": run["weight_decay"]}, {"params": rest}],
            lr=run["lr"], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
        )  # fmt: skip
        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        monitor = Monitor(seed, task.target, epochs, t0)
        for e in range(epochs):
            net.train()
            order = torch.from_numpy(data.orders[i, e].astype(np.int64)).view(n_batches, B)
            for idx in order:
                xb, yb = xtr[idx], ytr[idx]
                if aug:
                    xb = augment(torch, xb, aug, gen)
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(net(xb), yb, label_smoothing=run["label_smoothing"])
                loss.backward()
                if run.get("clip_norm"):
                    torch.nn.utils.clip_grad_norm_(net.parameters(), run["clip_norm"])
                opt.step()
                sched.step()
            net.eval()
            with torch.no_grad():
                acc = (net(xte).argmax(1) == yte).float().mean().item()
            if monitor.epoch(e + 1, acc):
                break
        results.append(monitor.result())
    return job_result(results, t0, n_params, f"{HOW}; {torch.get_num_threads()} threads")
