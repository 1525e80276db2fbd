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
    """Write every result table, predictions, summary, config, environment and timings under run_dir, as a
    finished study run folder (brainalign.runs: ``brainalign report`` writes only into run folders)."""
    from brainalign.runs import mark_finished, open_run

    with open_run(run_dir, "study") as run:
        run.keep()
        _write_results(run_dir, seed)
        mark_finished(run_dir)
    return run_dir


def _write_results(run_dir: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    boost = {"base": 0.0, "aligned": 0.08, "control_unpaired": -0.01}
    times = np.round(np.linspace(-0.1, 0.6, 15), 3)
    course = _rows(model=MODELS, layer=LAYERS, subject=SUBJECTS, time=times)
    shape = np.exp(-((course["time"] - 0.15) / 0.12) ** 2)
    course["similarity"] = shape * (0.2 + course["model"].map(boost)) + rng.normal(0, 0.02, len(course))
    write_table(course, table_path(run_dir, "rsa_timecourses"), "rsa_timecourses")
    marks = pd.concat([_rows(model=("aligned",), reference=("base", "control_unpaired"), layer=LAYERS, time=times),
                       _rows(model=("control_unpaired",), reference=("base",), layer=LAYERS, time=times)])
    marks["significant"] = (marks["time"] > 0.08) & (marks["time"] < 0.3) & (marks["reference"] == "base")
    marks["difference"] = np.where(marks["significant"], 0.05, 0.0) + rng.normal(0, 0.005, len(marks))
    marks["sem"], marks["n"] = 0.01, len(SUBJECTS)
    marks["test"] = "two-sided cluster permutation test (1000 permutations, cluster p < 0.05)"
    write_table(marks, table_path(run_dir, "rsa_significance"), "rsa_significance")

    whole = _rows(model=MODELS, target=LAYERS, subject=SUBJECTS).assign(readout="whole response")
    rois = _rows(model=MODELS, target=("V1", "V4", "LOC"), subject=SUBJECTS).assign(readout="roi best layer")
    similarity = pd.concat([whole, rois], ignore_index=True)
    similarity["similarity"] = 0.3 + similarity["model"].map(boost) + rng.normal(0, 0.02, len(similarity))
    write_table(similarity, table_path(run_dir, "similarity"), "similarity")

    improvement = similarity[similarity["model"] != "base"].copy()
    base = similarity[similarity["model"] == "base"].set_index(["readout", "target", "subject"])["similarity"]
    keys = list(zip(improvement["readout"], improvement["target"], improvement["subject"]))
    improvement["base"] = base.loc[keys].to_numpy()
    improvement["aligned"] = improvement.pop("similarity")
    improvement["reference"] = "base"
    improvement["improvement"] = improvement["aligned"] - improvement["base"]
    improvement["improvement_ratio"] = improvement["improvement"] / improvement["base"]
    write_table(improvement, table_path(run_dir, "improvement"), "improvement")

    ceiling = pd.DataFrame({"readout": "eeg time course", "target": [f"{t:g}" for t in times], "time": times,
                            "lower": 0.15 * np.exp(-((times - 0.15) / 0.12) ** 2) + 0.05, "n": len(SUBJECTS)})
    ceiling["upper"] = ceiling["lower"] + 0.1
    rows = pd.DataFrame({"readout": ["roi best layer"] * 3 + ["whole response"], "target": ["V1", "V4", "LOC",
                         "whole response"], "lower": 0.35, "upper": 0.45, "n": len(SUBJECTS)})
    write_table(pd.concat([ceiling, rows], ignore_index=True), table_path(run_dir, "noise_ceiling"), "noise_ceiling")

    correlation = _rows(eeg_readout=("IT 50-200 ms", "IT peak"), roi=("V1", "LOC"))
    correlation["r"], correlation["p_value"], correlation["n"] = rng.uniform(-1, 1, len(correlation)), 0.3, 3
    write_table(correlation, table_path(run_dir, "improvement_correlation"), "improvement_correlation")

    eeg = pd.concat([_rows(model=("base",), subject=("all",), data_subject=("eeg-1", "eeg-2", "eeg-3"), layer=LAYERS,
                           time=times),
                     _rows(model=MODELS[1:], subject=SUBJECTS, data_subject=("eeg-1", "eeg-2", "eeg-3"), layer=LAYERS,
                           time=times)])
    eeg["dataset"] = "things-eeg2"
    eeg["similarity"] = (np.exp(-((eeg["time"] - 0.15) / 0.12) ** 2) * (0.1 + eeg["model"].map(boost))
                         + rng.normal(0, 0.01, len(eeg)))
    write_table(eeg, table_path(run_dir, "cross_timecourses"), "cross_timecourses")

    cross = pd.concat([_rows(model=("base",), subject=("all",), data_subject=("fmri-1", "fmri-2"), target=LAYERS),
                       _rows(model=MODELS[1:], subject=SUBJECTS, data_subject=("fmri-1", "fmri-2"), target=LAYERS)])
    cross["dataset"], cross["layer"] = "shen2019", "IT"
    cross["similarity"] = 0.2 + cross["model"].map(boost) + rng.normal(0, 0.02, len(cross))
    write_table(cross, table_path(run_dir, "cross_similarity"), "cross_similarity")

    runs = [f"aligned {subject} seed {seed}" for subject in SUBJECTS for seed in (0, 1)]
    pairs = [(a, b) for i, a in enumerate(runs) for b in runs[i + 1:]]
    variability = pd.DataFrame([(layer, a, b, 0.05 * depth + rng.uniform(0, 0.02) + 0.03 * (a[:14] != b[:14]),
                                 "between subjects" if a[:14] != b[:14] else "same subject, other seed")
                                for depth, layer in enumerate(LAYERS) for a, b in pairs],
                               columns=["layer", "model_a", "model_b", "variability", "pair"])
    write_table(variability, table_path(run_dir, "variability"), "variability")

    robustness = _rows(model=MODELS, eps=(0.0, 0.002, 0.004, 0.008), subject=SUBJECTS)
    robustness["top1"] = (0.8 - robustness["model"].map(boost) - 40 * robustness["eps"]
                          + rng.normal(0, 0.01, len(robustness)))
    robustness["top5"] = np.minimum(robustness["top1"] + 0.15, 1.0)
    for metric in ("top1", "top5"):
        clean = robustness[robustness["eps"] == 0].set_index(["model", "subject"])[metric]
        robustness[f"{metric}_aligned"] = robustness[metric] - clean.loc[list(zip(robustness["model"],
                                                                                  robustness["subject"]))].to_numpy()
    robustness["attack"], robustness["chance"] = "fgsm", 0.1
    write_table(robustness, table_path(run_dir, "robustness"), "robustness")

    dimensions = _rows(model=("base", "aligned"), dimension=[f"dim {i}" for i in range(12)], subject=SUBJECTS)
    dimensions["squared_partial"] = rng.uniform(0, 0.02, len(dimensions))
    write_table(dimensions, table_path(run_dir, "dimensions"), "dimensions")

    trajectory = _rows(subject=SUBJECTS, seed=(0, 1), epoch=(0, 1, 2, 4, 8), target=("V4", "IT"))
    trajectory["seed"] = trajectory["subject"] + " seed " + trajectory["seed"].astype(str)
    trajectory["similarity"] = 0.2 + 0.02 * np.log1p(trajectory["epoch"]) + rng.normal(0, 0.005, len(trajectory))
    trajectory["accuracy"] = 0.8 - 0.01 * trajectory["epoch"] + 0.001 * trajectory["seed"].str[-1].astype(int)
    write_table(trajectory, table_path(run_dir, "trajectory"), "trajectory")

    truth = _rows(model=MODELS, subject=SUBJECTS, layer=LAYERS, stage=("early", "mid", "high", "object"))
    truth["similarity"] = 0.2 + truth["model"].map(boost) + rng.normal(0, 0.02, len(truth))
    write_table(truth, table_path(run_dir, "ground_truth"), "ground_truth")

    comparisons = _rows(comparison=("aligned - control_unpaired", "aligned: within - cross subject"), subject=SUBJECTS)
    comparisons["claim"], comparisons["model"], comparisons["reference"] = "a claim", "aligned", "control_unpaired"
    comparisons["readout"], comparisons["target"] = "whole response (IT)", "IT"
    comparisons["model_value"] = 0.35 + rng.normal(0, 0.01, len(comparisons))
    comparisons["reference_value"] = 0.3 + rng.normal(0, 0.01, len(comparisons))
    comparisons["difference"] = comparisons["model_value"] - comparisons["reference_value"]
    write_table(comparisons, table_path(run_dir, "comparisons"), "comparisons")

    real = rng.normal(size=(2, 17, 20)).astype(np.float32)
    write_predictions(run_dir / "results" / "predictions.npz", real, real + rng.normal(0, 0.5, real.shape),
                      ["stim-a", "stim-b"], images=rng.integers(0, 255, (2, 32, 32, 3), dtype=np.uint8),
                      times=np.linspace(-0.1, 0.6, 20), channels=np.array([f"ch{i}" for i in range(17)]))

    atomic_write_json(run_dir / "summary.json", {
        "measure": "held-out RSA similarity (Spearman rho)",
        "models": {model: {"mean": 0.3 + boost[model], "sem": 0.01, "n": len(SUBJECTS)} for model in MODELS},
        "simulated": True, "caveat": "Synthetic numbers for the report tests.",
        "readouts": {"eeg": {"aligned": {"IT": {"peak": {
            "improvement_ratio": 0.25, "ratio_ci": [0.1, 0.4], "improvement": 0.05, "improvement_ci": [0.01, 0.09],
            "p_value": 0.0123, "p_corrected": 0.049, "n": 3, "time_ms": 150.0}}}}},
        "tests": [{"model": "aligned", "reference": "base", "readout": "eeg peak", "target": "IT", "n": 3,
                   "mean_difference": 0.08, "ci_low": 0.01, "ci_high": 0.15, "cohens_dz": 2.0, "n_better": 3,
                   "p_value": 0.0123, "p_corrected": 0.049, "alternative": "two-sided"}],
        "comparisons": [{"comparison": "aligned - control_unpaired", "claim": "a claim", "readout": "whole response",
                         "target": "IT", "n": 3, "mean": 0.05, "ci_low": 0.01, "ci_high": 0.09, "p_value": 0.02,
                         "p_sign_flip": 0.25, "p_corrected": 0.04, "verdict": "holds",
                         "statement": "aligned - control_unpaired: +0.05. Holds in this simulation."}],
        "notes": ["Every test is two-sided."],
    })
    atomic_write_text(run_dir / "config.yaml", "name: synthetic\nseed: 0\nsubjects: 3\n")
    atomic_write_json(run_dir / "environment.json", {  # as environment_info(seed=0) writes it
        "python": "3.11.2", "platform": "Linux", "cpu_count": 2, "seed": 0, "time": "2026-01-01T00:00:00",
        "versions": {"brainalign": "0.1.0", "numpy": np.__version__, "torch": "2.0"},
    })
    atomic_write_json(run_dir / "timings.json", {"data": 1.5, "alignment": 42.0, "measurement": 3.25})

