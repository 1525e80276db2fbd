"""Synthetic result files for the report tests: every table and array the report reads."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainalign.report.results import table_path, write_predictions, write_table
from brainalign.runs import atomic_write_json, atomic_write_text

MODELS = ("base", "aligned", "control_unpaired")
SUBJECTS = ("sub-01", "sub-02", "sub-03")
LAYERS = ("V1", "V2", "V4", "IT")


def _rows(**axes) -> pd.DataFrame:
    index = pd.MultiIndex.from_product(list(axes.values()), names=list(axes))
    return index.to_frame(index=False)


def write_synthetic_results(run_dir: Path, seed: int = 0) -> Path:
    """Write every result table, predictions, summary, config, environment and timings under run_dir."""
    rng = np.random.default_rng(seed)
    boost = {"base": 0.0, "aligned": 0.08, "control_unpaired": -0.01}
    times = np.round(np.linspace(-0.1, 0.6, 15), 3)
    course = _rows(model=MODELS, layer=LAYERS, subject=SUBJECTS, time=times)
    shape = np.exp(-((course["time"] - 0.15) / 0.12) ** 2)
    course["similarity"] = shape * (0.2 + course["model"].map(boost)) + rng.normal(0, 0.02, len(course))
    write_table(course, table_path(run_dir, "rsa_timecourses"), "rsa_timecourses")
    marks = _rows(model=("aligned",), layer=LAYERS, time=times)
    marks["significant"] = (marks["time"] > 0.08) & (marks["time"] < 0.3)
    marks["test"] = "aligned > base, cluster permutation p < 0.05"
    write_table(marks, table_path(run_dir, "rsa_significance"), "rsa_significance")

    similarity = _rows(model=MODELS, target=("V1", "V4", "LOC", "held-out"), subject=SUBJECTS)
    similarity["similarity"] = 0.3 + similarity["model"].map(boost) + rng.normal(0, 0.02, len(similarity))
    write_table(similarity, table_path(run_dir, "similarity"), "similarity")

    improvement = similarity[similarity["model"] != "base"].copy()
    base = similarity[similarity["model"] == "base"].set_index(["target", "subject"])["similarity"]
    improvement["base"] = base.loc[list(zip(improvement["target"], improvement["subject"]))].to_numpy()
    improvement["aligned"] = improvement.pop("similarity")
    improvement["improvement"] = improvement["aligned"] - improvement["base"]
    improvement["improvement_ratio"] = improvement["improvement"] / improvement["base"]
    write_table(improvement, table_path(run_dir, "improvement"), "improvement")

    cross = pd.concat([_rows(model=("base",), subject=("all",), data_subject=("fmri-1", "fmri-2"), target=LAYERS),
                       _rows(model=MODELS[1:], subject=SUBJECTS, data_subject=("fmri-1", "fmri-2"), target=LAYERS)])
    cross["dataset"], cross["layer"] = "shen2019", "IT"
    cross["similarity"] = 0.2 + cross["model"].map(boost) + rng.normal(0, 0.02, len(cross))
    write_table(cross, table_path(run_dir, "cross_similarity"), "cross_similarity")

    pairs = [(a, b) for i, a in enumerate(SUBJECTS) for b in SUBJECTS[i + 1:]]
    variability = pd.DataFrame([(layer, f"aligned_{a}", f"aligned_{b}", 0.05 * depth + rng.uniform(0, 0.02))
                                for depth, layer in enumerate(LAYERS) for a, b in pairs],
                               columns=["layer", "model_a", "model_b", "variability"])
    write_table(variability, table_path(run_dir, "variability"), "variability")

    robustness = _rows(model=MODELS, eps=(0.0, 0.002, 0.004, 0.008), subject=SUBJECTS)
    robustness["top1"] = (0.8 - robustness["model"].map(boost) - 40 * robustness["eps"]
                          + rng.normal(0, 0.01, len(robustness)))
    clean = robustness[robustness["eps"] == 0].set_index(["model", "subject"])["top1"]
    robustness["top1_aligned"] = robustness["top1"] - clean.loc[list(zip(robustness["model"], robustness["subject"]))].to_numpy()
    write_table(robustness, table_path(run_dir, "robustness"), "robustness")

    dimensions = _rows(model=("base", "aligned"), dimension=[f"dim {i}" for i in range(12)], subject=SUBJECTS)
    dimensions["squared_partial"] = rng.uniform(0, 0.02, len(dimensions))
    write_table(dimensions, table_path(run_dir, "dimensions"), "dimensions")

    trajectory = _rows(seed=(0, 1), epoch=(0, 1, 2, 4, 8), target=("V4", "IT"))
    trajectory["similarity"] = 0.2 + 0.02 * np.log1p(trajectory["epoch"]) + rng.normal(0, 0.005, len(trajectory))
    trajectory["accuracy"] = 0.8 - 0.01 * trajectory["epoch"] + 0.001 * trajectory["seed"]
    write_table(trajectory, table_path(run_dir, "trajectory"), "trajectory")

    real = rng.normal(size=(2, 17, 20)).astype(np.float32)
    write_predictions(run_dir / "results" / "predictions.npz", real, real + rng.normal(0, 0.5, real.shape),
                      ["stim-a", "stim-b"], images=rng.integers(0, 255, (2, 32, 32, 3), dtype=np.uint8),
                      times=np.linspace(-0.1, 0.6, 20))

    atomic_write_json(run_dir / "summary.json", {
        "measure": "held-out RSA similarity (Spearman rho)",
        "models": {model: {"mean": 0.3 + boost[model], "sem": 0.01, "n": len(SUBJECTS)} for model in MODELS},
        "tests": [{"model": "aligned", "other": "base", "target": "IT", "n": 3, "mean_difference": 0.08,
                   "n_better": 3, "p_value": 0.0123}],
    })
    atomic_write_text(run_dir / "config.yaml", "name: synthetic\nseed: 0\nsubjects: 3\n")
    atomic_write_json(run_dir / "environment.json", {  # as environment_info(seed=0) writes it
        "python": "3.11.2", "platform": "Linux", "cpu_count": 2, "seed": 0, "time": "2026-01-01T00:00:00",
        "versions": {"brainalign": "0.1.0", "numpy": np.__version__, "torch": "2.0"},
    })
    atomic_write_json(run_dir / "timings.json", {"data": 1.5, "alignment": 42.0, "measurement": 3.25})
    return run_dir
