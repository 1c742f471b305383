#!/usr/bin/env python3
"""Golden values of data-parallel SLAVC training in PyTorch (issue #9 item 5), for
crates/avsl-train/tests/data_parallel.rs.

Two processes (torch.distributed, gloo, on the CPU), one replica each, each its half of a
global batch of 8, BatchNorm statistics per process (as DistributedDataParallel), the
embeddings gathered (the other processes' as constants, its own tracked) so every process
computes SLAVC's loss of the global batch, the gradients summed across the processes
(the sum of the processes' partial gradients of the same loss is its gradient), Adam on
each. Two steps in the authors' order (online features,
momentum update, target features, loss, Adam), visual dropout off. The network and
formula weights are those of make_train_fixtures.py (d = 16, 64x64 images, 257x40
spectrograms, m = 0.99, lr 1e-3).

As a check of that bookkeeping, the first process also computes the gradient in one
process without collectives (each shard through the trunks on its own, the loss of the
global batch, one backward pass) and asserts both agree. (Gathering with
`torch.distributed.nn.functional.all_gather` and averaging as DDP does gave image-trunk
gradients unrelated to this reference in torch 2.15; not used.)

    ~/.venvs/avsl-ref/bin/python tools/make_ddp_fixtures.py
"""
import copy
import json
import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_fixtures import build_model, embeddings, fill_with_formula, formula_values, slavc_loss  # noqa: E402
from make_train_fixtures import BUFFERS, DIM, LR, MOMENTUM, M, TAU, WATCHED, momentum_update, summary  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "train")
EXACT = os.path.join(OUT, "slavc_ddp_float64_losses.json")
WORLD, GLOBAL, STEPS = 2, 8, 2
# Adam's first step with ε = 1e-8 moves each weight by about lr·sign(g), so float32 noise
# in the ill-conditioned image-stem gradients (1e-3 of their largest value between two
# summation orders) flips whole steps and the second step's loss depends on it. With a
# large ε the update is a smooth function of the gradient. A global batch of 4 (BatchNorm
# over 2 samples a process) left the second loss 2e-3 off its float64 value in PyTorch's
# own float32 run on an AVX2 machine (1.4e-4 on AVX-512); over 4 samples, 1.3e-4.
ADAM_EPS = 1.0
IMAGE, AUDIO = [GLOBAL, 3, 64, 64], [GLOBAL, 1, 257, 40]


def inputs(step, dtype=torch.float32):
    image = torch.from_numpy(formula_values(9101 + 2 * step, "input.image", IMAGE) * 8.0).to(dtype)
    audio = torch.from_numpy(formula_values(9102 + 2 * step, "input.audio", AUDIO) * 8.0).to(dtype)
    return image, audio


def f32_error(t, exact):
    """max |float32 - float64| of PyTorch's own runs, for one tensor."""
    return (t.detach().double().reshape(-1) - torch.tensor(exact, dtype=torch.float64)).abs().max().item()


def f32_errors(t, exact):
    """PyTorch's own float32 error of a tensor, its sum and its sum of |x|."""
    t, exact = t.detach().double().reshape(-1), torch.tensor(exact, dtype=torch.float64)
    return {
        "f32_error": (t - exact).abs().max().item(),
        "f32_sum_error": max(abs(t.sum() - exact.sum()).item(), abs(t.abs().sum() - exact.abs().sum()).item()),
    }


def gather_constant(t):
    parts = [torch.empty_like(t) for _ in range(WORLD)]
    dist.all_gather(parts, t.detach().contiguous())
    return parts


def single_process_gradient(model, step):
    """The gradient DDP with gathered embeddings computes, without collectives: each shard
    through the trunks on its own (its own BatchNorm statistics), the loss of the global
    batch, one backward pass. Works on a copy (momentum update, running statistics)."""
    model = copy.deepcopy(model)
    online = {n: p for n, p in model.named_parameters() if not n.startswith("momentum_")}
    image, audio = inputs(step)
    shards = [slice(r * GLOBAL // WORLD, (r + 1) * GLOBAL // WORLD) for r in range(WORLD)]
    parts = [embeddings(model, "", ["1", "2"], image[s], audio[s])[2:] for s in shards]
    momentum_update(model, M)
    with torch.no_grad():
        targets = [embeddings(model, "momentum_", ["1", "2"], image[s], audio[s])[2:] for s in shards]
    cat = lambda parts, i, h: torch.cat([p[i][h] for p in parts])
    v, a = [cat(parts, 0, h) for h in range(2)], [cat(parts, 1, h) for h in range(2)]
    vt, at = [cat(targets, 0, h) for h in range(2)], [cat(targets, 1, h) for h in range(2)]
    loss = slavc_loss(v, a, vt, at, TAU)
    return loss.item(), torch.autograd.grad(loss, list(online.values()))


def worker(rank, dtype):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29517")
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    torch.set_num_threads(1)
    model = build_model(DIM, ["1", "2"], momentum=True)
    names = fill_with_formula(model, 0)
    model.to(dtype).train()
    online = {n: p for n, p in model.named_parameters() if not n.startswith("momentum_")}
    for n, p in model.named_parameters():
        p.requires_grad_(not n.startswith("momentum_"))
    opt = torch.optim.Adam(list(online.values()), lr=LR, eps=ADAM_EPS)
    shard = slice(rank * GLOBAL // WORLD, (rank + 1) * GLOBAL // WORLD)
    losses, first_grads, worst = [], None, 0.0
    for step in range(STEPS):
        reference = single_process_gradient(model, step) if rank == 0 and dtype == torch.float32 else None
        image, audio = (x[shard] for x in inputs(step, dtype))
        _, _, v, a = embeddings(model, "", ["1", "2"], image, audio)
        momentum_update(model, M)
        with torch.no_grad():
            _, _, vt, at = embeddings(model, "momentum_", ["1", "2"], image, audio)
        vt = [torch.cat(gather_constant(t)) for t in vt]
        at = [torch.cat(gather_constant(t)) for t in at]
        # The other shards' embeddings as constants, this one's tracked; the loss of the
        # global batch is the same on every process, so the summed gradients are its
        # gradient.
        own = lambda parts, t: torch.cat([t if r == rank else p for r, p in enumerate(parts)])
        v_all = [own(gather_constant(t), t) for t in v]
        a_all = [own(gather_constant(t), t) for t in a]
        loss = slavc_loss(v_all, a_all, vt, at, TAU)
        opt.zero_grad()
        loss.backward()
        for p in online.values():
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        if reference is not None:
            assert abs(reference[0] - loss.item()) <= 1e-5 * abs(loss.item()), (reference[0], loss.item())
            for (n, p), g in zip(online.items(), reference[1]):
                # Relative to the tensor's largest gradient (the image stem's gradient is
                # ill-conditioned in float32: 1e-3 between two summation orders).
                worst = max(worst, ((p.grad - g).abs().max() / g.abs().max().clamp_min(1e-12)).item())
        losses.append(loss.item())
        if step == 0:
            first_grads = {n: online[n].grad.detach().clone() for n in WATCHED}
        opt.step()
    state = model.state_dict()
    header = {"dim": DIM, "tau": TAU, "momentum": M, "lr": LR, "image": IMAGE, "audio": AUDIO, "adam_eps": ADAM_EPS,
              "devices": WORLD, "first_input": 9101, "tensors": names}
    extra = {"buffers": {n: summary(state[n]) for n in BUFFERS}, "momentum_params": {n: summary(state[n]) for n in MOMENTUM}}
    write_figures(rank, dtype, EXACT, os.path.join(OUT, "slavc_ddp.json"), header, losses, first_grads, state, worst,
                  extra)


def write_figures(rank, dtype, exact_path, out_path, header, losses, first_grads, state, worst, extra):
    """On the first process: the float64 run's figures to `exact_path`; the float32 run's
    fixture to `out_path`, each figure with PyTorch's own float32 error (against the
    float64 run), plus `header` and `extra`. Then the processes part."""
    if rank == 0 and dtype == torch.float64:
        with open(exact_path, "w") as f:
            json.dump({
                "losses": losses,
                "first_grads": {n: g.reshape(-1).tolist() for n, g in first_grads.items()},
                "after_steps": {n: state[n].reshape(-1).tolist() for n in first_grads},
            }, f)
    elif rank == 0:
        print(f"summed gradients vs the single-process reference: worst {worst:.1e} of the largest")
        assert worst < 5e-3
        with open(exact_path) as f:
            exact = json.load(f)
        out = dict(header, **{
            "losses": losses,
            "loss_f32_error": [abs(a - b) for a, b in zip(losses, exact["losses"])],
            "first_grads": {n: dict(summary(g), **f32_errors(g, exact["first_grads"][n])) for n, g in first_grads.items()},
            "after_steps": {n: dict(summary(state[n]), f32_error=f32_error(state[n], exact["after_steps"][n]))
                            for n in first_grads},
            "torch": torch.__version__,
        }, **extra)
        with open(out_path, "w") as f:
            json.dump(out, f)
        print("losses", losses)
    dist.barrier()
    dist.destroy_process_group()


def spawn_float64_then_float32(worker, nprocs, exact_path):
    """PyTorch's own float32 error, for the tolerances: the same run in float64 first."""
    os.makedirs(OUT, exist_ok=True)
    mp.spawn(worker, args=(torch.float64,), nprocs=nprocs)
    mp.spawn(worker, args=(torch.float32,), nprocs=nprocs)
    os.remove(exact_path)


def main():
    spawn_float64_then_float32(worker, WORLD, EXACT)


if __name__ == "__main__":
    main()
