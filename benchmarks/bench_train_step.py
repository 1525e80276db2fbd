"""One alignment training step vs one plain classification step (CORnet-S, 224 px, batch 16, EEG head).

Steps timed (forward + backward + Adam update, median of ``--repeats`` after one warm-up step):

- ``plain``: CORnet-S, cross-entropy on its logits; Adam over the backbone.
- ``ce_mse``: + encoder head (4 layers -> 128 each -> 340), loss CE + MSE; Adam over backbone + head.
- ``full``: + the soft-rank Spearman contrastive term (the whole ReAlnet loss).

each in float32 and under bf16 autocast. Every step is timed in a fresh process: timed one after the
other in one process, later variants ran up to 1.7x slower for reasons unrelated to their work (the
allocator's state after the earlier multi-GB steps; reversing the order reversed the effect).
Prints images/s and the ratios to ``plain`` and writes ``benchmarks/results/train_step.json``.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_train_step.py
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from brainalign.align import EncoderHead, alignment_loss
from brainalign.align.optim import adam
from brainalign.models import cornet_s
from brainalign.runs import atomic_write_json, environment_info

RESULTS = Path(__file__).parent / "results" / "train_step.json"


def make_step(variant: str, amp: bool, batch: int, size: int, n_features: int):
    """A closure running one training step of ``variant``; the model and data are built once."""
    torch.manual_seed(0)
    model = cornet_s().train()
    images = torch.randn(batch, 3, size, size)
    labels = torch.randint(0, 1000, (batch,))
    targets = torch.randn(batch, n_features)
    head = None if variant == "plain" else EncoderHead.for_model(model, n_features, image_size=size)
    parameters = [*model.parameters(), *([] if head is None else head.parameters())]
    optimizer = adam(parameters, lr=2e-5)  # the trainer's (fused) Adam for both steps

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            if head is None:
                logits, predicted = model(images), None
            else:
                logits, outputs = model.forward_layers(images)
                predicted = head(outputs)
        if predicted is None:
            loss = F.cross_entropy(logits.float(), labels)
        else:
            loss = alignment_loss(logits, labels, predicted, targets, beta=1.0, contrastive=variant == "full").total
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def time_step(step, repeats: int) -> float:
    step()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def time_in_fresh_process(variant: str, precision: str, args: argparse.Namespace) -> float:
    """Median seconds of one step of ``variant`` measured by a new Python process."""
    command = [sys.executable, __file__, "--one", variant, precision, "--batch", str(args.batch),
               "--size", str(args.size), "--features", str(args.features), "--repeats", str(args.repeats)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return float(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--features", type=int, default=340)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--precisions", nargs="+", choices=["float32", "bf16"], default=["float32", "bf16"])
    parser.add_argument("--variants", nargs="+", choices=["plain", "ce_mse", "full"], default=["plain", "ce_mse", "full"])
    parser.add_argument("--one", nargs=2, metavar=("VARIANT", "PRECISION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # child process: time one step and print its median seconds
        variant, precision = args.one
        print(time_step(make_step(variant, precision == "bf16", args.batch, args.size, args.features), args.repeats))
        return
    results = {"settings": {k: str(v) for k, v in vars(args).items()}, "threads": torch.get_num_threads(), "environment": environment_info(0), "steps": {}}
    for amp in [precision == "bf16" for precision in args.precisions]:
        for variant in args.variants:
            seconds = time_in_fresh_process(variant, "bf16" if amp else "float32", args)
            key = f"{variant}{'_bf16' if amp else ''}"
            results["steps"][key] = {"seconds": seconds, "images_per_second": args.batch / seconds}
            print(f"{key:12s} {seconds:7.2f} s/step  {args.batch / seconds:6.2f} images/s", flush=True)
    steps = results["steps"]
    for amp in ("", "_bf16"):
        for variant in ("ce_mse", "full"):
            if variant + amp in steps and "plain" + amp in steps:
                ratio = steps[variant + amp]["seconds"] / steps["plain" + amp]["seconds"]
                steps[variant + amp]["ratio_to_plain"] = ratio
                print(f"{variant + amp:12s} / plain{amp}: {ratio:.3f}")
    for variant in args.variants:
        if variant in steps and variant + "_bf16" in steps:
            speed_up = steps[variant]["seconds"] / steps[variant + "_bf16"]["seconds"]
            print(f"bf16 speed-up of the {variant} step: {speed_up:.2f}x")
    atomic_write_json(args.out, results)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
