"""Does alignment work? Held-out RSA similarity to the simulated observer: base vs aligned vs controls.

Trains (via one sweep) a briefly pre-trained CORnet-Z base, then aligned models and controls for the
simulated subjects and several seeds, and measures on the held-out test images (categories never seen
in training) the Spearman correlation between each model layer's RDM (1 - Pearson r of activations)
and the subject's RDM (1 - Pearson r of the repetition-averaged 17 x 20 EEG-like responses). Reports
the best layer and IT per model, mean over subjects and seeds.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/align_simulated.py --out runs/align_check
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign.align import load_aligned, load_model_file, run_sweep
from brainalign.align.data import simulate_cached
from brainalign.measure import compare, compute_rdms
from brainalign.measure.features import extract


def demo_sweep(args: argparse.Namespace) -> dict:
    """The small demo setting as a sweep config (``--base FILE`` reuses a pre-trained base model)."""
    if args.base is None:
        model = {"name": "cornet_z", "pretrain": {"epochs": 4, "lr": 1e-3, "batch_size": 32}}
    else:
        model = {"name": "cornet_z", "weights": str(args.base)}
    return {
        "out_dir": str(args.out),
        "subjects": args.subjects,
        "betas": [args.beta],
        "controls": args.controls,
        "seeds": args.seeds,
        "train": {
            "model": model,
            "data": {"source": "simulated", "simulate": {"seed": 0}, "image_size": 64},
            "training": {"epochs": args.epochs, "batch_size": 16, "lr": args.lr, "amp": args.amp},
            "progress": False,
        },
    }


def rsa_similarity(model, dataset, subject: str, image_size: int) -> dict[str, float]:
    """Spearman(model layer RDM, subject RDM) on the held-out images, per layer."""
    features = extract(model, dataset.test_stimuli, image_size=image_size, progress=False)
    model_rdms = compute_rdms(features)
    responses = dataset.test[subject].match_stimuli(dataset.test_stimuli).flatten()
    brain_rdm = compute_rdms(responses)
    values = compare(model_rdms, brain_rdm)[:, 0]
    return dict(zip(features, values.tolist()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/align_check"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--subjects", nargs="+", default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--controls", nargs="+", default=["none", "control_unpaired", "control_beta0", "control_no_contrastive"]
    )
    parser.add_argument("--beta", type=float, default=10.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--amp", choices=["none", "bf16"], default="none")
    parser.add_argument("--base", type=Path, default=None, help="pre-trained base model file to reuse")
    args = parser.parse_args()
    config = demo_sweep(args)
    started = time.perf_counter()
    run_dirs = run_sweep(config)
    train_seconds = time.perf_counter() - started
    dataset = simulate_cached(json.dumps(config["train"]["data"]["simulate"], sort_keys=True))
    jobs = json.loads((args.out / "sweep.json").read_text())["jobs"]
    base = load_model_file(args.base or args.out / "base" / "model.safetensors")
    rows = []
    for subject in sorted({job["subject"] for job in jobs}):
        rows.append({"model": "base", "subject": subject, "seed": -1, **rsa_similarity(base, dataset, subject, 64)})
    for job in jobs:
        model = load_aligned(job["run_dir"])
        label = "aligned" if job["control"] == "none" else job["control"]
        rows.append({"model": label, "subject": job["subject"], "seed": job["seed"],
                     **rsa_similarity(model, dataset, job["subject"], 64)})
    table = pd.DataFrame(rows)
    layers = [c for c in table.columns if c not in ("model", "subject", "seed")]
    table["best_layer"] = table[layers].max(axis=1)
    table.to_csv(args.out / "rsa.csv", index=False)
    per_seed = table.groupby(["model", "seed"])[["best_layer", *layers]].mean()
    print(per_seed.round(4).to_string())
    print(table.groupby("model")[["best_layer", *layers]].agg(["mean", "std"]).round(4).to_string())
    print(f"training (incl. base pre-training) {train_seconds:.0f} s for {len(run_dirs)} runs")


if __name__ == "__main__":
    main()
