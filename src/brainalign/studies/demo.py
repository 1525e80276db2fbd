"""The demo: the whole method on the simulated observer, small enough for a laptop (a few minutes).

A CORnet-Z base model is pre-trained briefly on the observer's training categories (a stand-in for
ImageNet), aligned to each of three simulated subjects (beta 10), together with the three controls
(beta 0, no contrastive term, responses shuffled across images); every model is evaluated on
held-out images of categories it never saw (RSA per layer and time point, individual variability,
the observer's generative factors as object dimensions, alignment across epochs, predicted responses).
``configs/demo.yaml`` holds the same settings.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from brainalign.studies.config import StudyConfig, parse_study_config

DEMO_CONFIG: dict[str, Any] = {
    "name": "demo",
    "title": "brainalign demo: ReAlnet alignment on the simulated observer",
    "out_dir": "runs/demo",
    "seed": 0,
    "alignment": {
        "subjects": ["sub-01", "sub-02", "sub-03"],
        "betas": [10.0],
        "controls": ["none", "control_beta0", "control_no_contrastive", "control_unpaired"],
        "seeds": [0],
        "train": {
            "model": {"name": "cornet_z", "pretrain": {"epochs": 6, "lr": 0.001, "batch_size": 32}},
            "data": {"source": "simulated", "image_size": 64,
                     "simulate": {"n_subjects": 3, "seed": 0, "pretrain_per_category": 20}},
            "training": {"epochs": 3, "lr": 0.0001, "batch_size": 16, "beta": 10.0},
        },
    },
    "evaluation": {"image_size": 64, "predictions": 4, "significance": "fdr", "dimensions": "simulated"},
}


def demo_config(out_dir: str | Path = "runs/demo") -> StudyConfig:
    """The demo's study config, writing into ``out_dir``."""
    return parse_study_config({**DEMO_CONFIG, "out_dir": str(out_dir)}, "demo config")


def run_demo(out_dir: str | Path = "runs/demo", force: bool = False, progress: bool = True) -> Path:
    """Run the demo into ``out_dir``; return the run directory (report.html, summary.json inside)."""
    from brainalign.studies.pipeline import run_study

    return run_study(demo_config(out_dir), force=force, progress=progress)
