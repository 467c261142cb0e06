#!/usr/bin/python3
"""PyTorch side of tinyq's training-throughput benchmark (see docs/BENCHMARKING.md).

Outside reference only: nothing in tinyq imports it. Run with Debian's /usr/bin/python3 (torch 1.13) in
the benchmarking environment:

  OPENBLAS_NUM_THREADS=1 MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 \
  MALLOC_TOP_PAD_=268435456 /usr/bin/python3 bench/torch_train_step.py \
      --model resnet8 --mode float --batch 32 --seconds 5 --warmup 20

One training step = model.train(); forward; loss (cross-entropy with integer labels for the classifiers,
MSE against the input for the auto-encoder); backward; Adam step (lr 1e-3, eps 1e-7);
zero_grad(set_to_none=True). The batch is random, created once and reused for every step.
--warmup W runs W untimed steps first; then steps are timed until --seconds S have elapsed (the step in
progress is completed). Prints ONE line of JSON:
  {"model":..., "mode":..., "batch":..., "samples_per_s":..., "steps":..., "seconds":...}
--check-params prints the parameter count of the float model (trainable + buffers, without BN's
num_batches_tracked) and exits.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch                       # noqa: E402
import torch.nn.functional as F    # noqa: E402

import torch_models                # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, choices=sorted(torch_models.MODELS))
    ap.add_argument("--mode", default="float", choices=["float", "qat"])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=5.0, help="timed duration (s)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed warm-up steps")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check-params", action="store_true",
                    help="print the float model's parameter count and exit")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    model = torch_models.build(a.model)
    if a.check_params:
        print(torch_models.param_count(model))
        return 0
    if a.batch < 2:
        ap.error("--batch must be >= 2 (batch norm in training mode)")

    if a.mode == "qat":
        import torch_qat
        model = torch_qat.make_qat(model)
    model.train()

    cls = torch_models.MODELS[a.model]
    x = torch.randn((a.batch,) + tuple(cls.input_shape))
    if cls.num_classes is None:
        target = x

        def loss_fn(out):
            return F.mse_loss(out, target)
    else:
        labels = torch.randint(0, cls.num_classes, (a.batch,))

        def loss_fn(out):
            return F.cross_entropy(out, labels)

    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)

    def step():
        model.train()
        loss = loss_fn(model(x))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    for _ in range(a.warmup):
        loss = step()
    if a.warmup and not torch.isfinite(loss):
        print("warning: non-finite loss during warm-up", file=sys.stderr)

    steps = 0
    t0 = time.perf_counter()
    while True:
        step()
        steps += 1
        el = time.perf_counter() - t0
        if el >= a.seconds:
            break

    print(json.dumps({
        "model": a.model,
        "mode": a.mode,
        "batch": a.batch,
        "samples_per_s": round(steps * a.batch / el, 2),
        "steps": steps,
        "seconds": round(el, 4),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
