"""Does alignment work? Held-out RSA similarity to the simulated observer: base vs aligned vs controls.

Runs the demo's alignment sweep (``brainalign.studies.demo.DEMO_CONFIG``: a briefly pre-trained
CORnet-Z base, aligned models and controls per simulated subject) for several seeds, and measures
on the held-out test images (categories never seen in training) the Spearman correlation between each model layer's RDM (1 - Pearson r of activations)
and the subject's RDM (1 - Pearson r of the repetition-averaged 17 x 20 EEG-like responses). Reports
the best layer and IT per model, mean over subjects and seeds.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/align_simulated.py --out runs/align_check
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import pandas as pd

from brainalign.align import run_sweep
from brainalign.models import load
from brainalign.align.data import simulated_observer
from brainalign.measure import compare, compute_rdms
from brainalign.measure.features import extract
from brainalign.studies.demo import DEMO_CONFIG


def demo_sweep(args: argparse.Namespace) -> dict:
    """The demo's alignment sweep (``brainalign.studies.demo.DEMO_CONFIG``) with this script's overrides."""
    config = copy.deepcopy(DEMO_CONFIG["alignment"])
    config.update(out_dir=str(args.out), seeds=args.seeds, controls=args.controls)
    if args.subjects:
        config["subjects"] = args.subjects
    train = config["train"]
    train["progress"] = False
    train["training"]["amp"] = args.amp
    for key in ("epochs", "lr"):
        if getattr(args, key) is not None:
            train["training"][key] = getattr(args, key)
    if args.beta is not None:
        config["betas"] = [args.beta]
    if args.base is not None:  # reuse a pre-trained base model file
        train["model"] = {"name": train["model"]["name"], "weights": str(args.base)}
    return config


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
    parser.add_argument("--epochs", type=int, default=None, help="default: the demo's")
    parser.add_argument(
        "--controls", nargs="+", default=["none", "control_unpaired", "control_beta0", "control_no_contrastive"]
    )
    parser.add_argument("--beta", type=float, default=None, help="default: the demo's")
    parser.add_argument("--lr", type=float, default=None, help="default: the demo's")
    parser.add_argument("--amp", choices=["none", "bf16"], default="none")
    parser.add_argument("--base", type=Path, default=None, help="pre-trained base model file to reuse")
    args = parser.parse_args()
    config = demo_sweep(args)
    started = time.perf_counter()
    run_dirs = run_sweep(config)
    train_seconds = time.perf_counter() - started
    dataset = simulated_observer(config["train"]["data"]["simulate"])
    jobs = json.loads((args.out / "sweep.json").read_text())["jobs"]
    size = config["train"]["data"]["image_size"]
    base = load(args.base or args.out / "base" / "model.safetensors").model
    rows = []
    for subject in sorted({job["subject"] for job in jobs}):
        rows.append({"model": "base", "subject": subject, "seed": -1, **rsa_similarity(base, dataset, subject, size)})
    for job in jobs:
        model = load(job["run_dir"]).model
        rows.append({"model": job["label"], "subject": job["subject"], "seed": job["seed"],
                     **rsa_similarity(model, dataset, job["subject"], size)})
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
