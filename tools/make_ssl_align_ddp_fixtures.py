#!/usr/bin/env python3
"""Golden values of data-parallel SSL-align training in PyTorch (issue #9 item 5), for
crates/avsl-train/tests/data_parallel.rs.

The SSL-align network and formula weights of make_ssl_align_step_fixtures.py (d = 16,
64x64 images, 257x40 spectrograms). A global batch of B = 4 samples in three views (the
samples, their augmentations, their neighbours: here formula inputs), two processes
(torch.distributed, gloo, on the CPU), each with its 2 samples of every view: its trunks
run once on its 6 inputs, so BatchNorm's statistics are per process over those 6 (as
DistributedDataParallel with the authors' three-view batches). Each view's backbone
features and projections are gathered (the other process's as constants, its own
tracked), every process computes eq. 5's loss of the global batch, the gradients are
summed across the processes, then Adam on each; two steps.

As in make_ddp_fixtures.py: the first process also computes the gradient in one process
without collectives (each shard through the trunks on its own) and asserts both agree;
the same run in float64 gives PyTorch's own float32 error of every figure, which bounds
the test's tolerances; Adam's ε is 1 (see there).

    ~/.venvs/avsl-ref/bin/python tools/make_ssl_align_ddp_fixtures.py
"""
import copy
import os
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_ddp_fixtures import ADAM_EPS, gather_constant, spawn_float64_then_float32, write_figures  # noqa: E402
from make_model_fixtures import fill_with_formula, formula_values  # noqa: E402
from make_train_fixtures import summary  # noqa: E402
import make_ssl_align_fixtures as align  # noqa: E402
import make_ssl_align_step_fixtures as step_fixtures  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "train")
EXACT = os.path.join(OUT, "ssl_align_ddp_float64.json")
WORLD, B, VIEWS, STEPS = 2, 4, 3, 2
DIM, TAU, LR = step_fixtures.DIM, step_fixtures.TAU, step_fixtures.LR
IMAGE, AUDIO = [VIEWS * B, 3, 64, 64], [VIEWS * B, 1, 257, 40]
WATCHED = step_fixtures.WATCHED
FIRST_INPUT = 9201


def inputs(step, dtype):
    image = torch.from_numpy(formula_values(FIRST_INPUT + 2 * step, "input.image", IMAGE) * 8.0).to(dtype)
    audio = torch.from_numpy(formula_values(FIRST_INPUT + 1 + 2 * step, "input.audio", AUDIO) * 8.0).to(dtype)
    return image, audio


def shard_rows(rank):
    """Rows of process `rank`'s samples in every view, view after view."""
    per = B // WORLD
    return torch.cat([torch.arange(v * B + rank * per, v * B + (rank + 1) * per) for v in range(VIEWS)])


def features(model, image, audio):
    """Backbone features and projections of a batch, split into its three views."""
    h, w = (IMAGE[2] + 31) // 32, (IMAGE[3] + 31) // 32
    v = model.imgnet(image).unflatten(1, (512, h, w))
    a = model.audnet(audio)
    pv = model.img_align(v.mean(dim=(2, 3)))
    pa = model.aud_align(a)
    return [list(t.chunk(VIEWS)) for t in (v, a, pv, pa)]


def global_loss(parts):
    """Eq. 5 over the global batch: each view's tensors joined over the shards in order."""
    align.B, align.TAU = B, TAU
    joined = [[torch.cat([p[i][view] for p in parts]) for view in range(VIEWS)] for i in range(4)]
    return align.loss_of(*joined)


def single_process_gradient(model, step):
    """The gradient the processes compute together, without collectives (on a copy)."""
    model = copy.deepcopy(model)
    image, audio = inputs(step, torch.float32)
    parts = [features(model, image[shard_rows(r)], audio[shard_rows(r)]) for r in range(WORLD)]
    loss = global_loss(parts)
    return loss.item(), torch.autograd.grad(loss, list(model.parameters()))


def worker(rank, dtype):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29518")
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    torch.set_num_threads(1)
    model = step_fixtures.build_model()
    names = fill_with_formula(model, 0)
    model.to(dtype).train()
    opt = torch.optim.Adam(model.parameters(), lr=LR, eps=ADAM_EPS)
    losses, first_grads, worst = [], None, 0.0
    for step in range(STEPS):
        reference = single_process_gradient(model, step) if rank == 0 and dtype == torch.float32 else None
        image, audio = (x[shard_rows(rank)] for x in inputs(step, dtype))
        own = features(model, image, audio)
        # Every process's parts: its own tracked, the others' gathered as constants.
        gathered = [[gather_constant(t) for t in group] for group in own]
        parts = [
            [[t if r == rank else gathered[i][view][r] for view, t in enumerate(group)] for i, group in enumerate(own)]
            for r in range(WORLD)
        ]
        loss = global_loss(parts)
        opt.zero_grad()
        loss.backward()
        for p in model.parameters():
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        if reference is not None:
            assert abs(reference[0] - loss.item()) <= 1e-5 * abs(loss.item()), (reference[0], loss.item())
            for p, g in zip(model.parameters(), reference[1]):
                worst = max(worst, ((p.grad - g).abs().max() / g.abs().max().clamp_min(1e-12)).item())
        losses.append(loss.item())
        if step == 0:
            params = dict(model.named_parameters())
            first_grads = {n: params[n].grad.detach().clone() for n in WATCHED}
        opt.step()
    header = {"dim": DIM, "tau": TAU, "lr": LR, "image": IMAGE, "audio": AUDIO, "views": VIEWS, "adam_eps": ADAM_EPS,
              "devices": WORLD, "first_input": FIRST_INPUT, "tensors": names}
    state = model.state_dict()
    write_figures(rank, dtype, EXACT, os.path.join(OUT, "ssl_align_ddp.json"), header, losses, first_grads, state,
                  worst, {"buffers": {n: summary(state[n]) for n in step_fixtures.BUFFERS}})


def main():
    spawn_float64_then_float32(worker, WORLD, EXACT)


if __name__ == "__main__":
    main()
