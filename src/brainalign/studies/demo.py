"""The demo: the whole method on the simulated observer, small enough for 2 CPU cores (under 10 minutes).

Eight simulated subjects, each with an individual hidden brain, view the same images; their EEG-like
responses train the models and their fMRI-like responses of the same brains test them across modalities.
A CORnet-Z base model (32 px) is pre-trained to a plateau of held-out accuracy on the observer's training
categories (a stand-in for ImageNet), then aligned to each subject (beta 10) with three training seeds,
together with the three controls (beta 0, no contrastive term, image-response pairs reshuffled every epoch).
Every model is evaluated on held-out images of categories it never saw (RSA per layer and time point, the
fMRI-like ROIs of the same brains, the hidden brain's noise-free stages, individual variability, the
observer's generative factors as object dimensions, alignment across epochs, predicted responses), and
``summary.json`` states each headline comparison (aligned vs each control, within vs cross subject,
cross-modal) with its mean, 95 % confidence interval and n over the 8 subjects.
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
        "subjects": [f"sub-{index:02d}" for index in range(1, 9)],
        "betas": [10.0],
        "controls": ["none", "control_beta0", "control_no_contrastive", "control_unpaired"],
        "seeds": [0, 1, 2],
        "workers": 2,  # two jobs at a time, one torch thread each: faster than one job on both cores
        "control_keep_checkpoints": 1,  # the trajectory reads the aligned runs' epochs only
        "train": {
            "model": {"name": "cornet_z", "pretrain": {"epochs": 40, "patience": 3, "lr": 0.001, "batch_size": 32}},
            "data": {"source": "simulated", "image_size": 32,
                     "simulate": {"n_subjects": 8, "seed": 0, "pretrain_per_category": 20}},
            "training": {"epochs": 3, "lr": 0.0001, "batch_size": 16, "beta": 10.0},
        },
    },
    "evaluation": {"image_size": 32, "predictions": 4, "significance": "cluster", "dimensions": "simulated",
                   "robustness": {}},
    "cross_evaluation": [{"name": "sim-fmri", "modality": "fmri", "simulated": {}}],
}


def demo_config(out_dir: str | Path = "runs/demo") -> StudyConfig:
    """The demo's study config, writing into ``out_dir``."""
    return parse_study_config({**DEMO_CONFIG, "out_dir": str(out_dir)}, "demo config")


def run_demo(out_dir: str | Path = "runs/demo", force: bool = False, progress: bool = True,
             resume: bool = False) -> Path:
    """Run the demo into ``out_dir``; return the run directory (report.html, summary.json inside).
    ``resume`` continues an unfinished demo (finished training jobs are kept)."""
    from brainalign.runs import check_run_dir

    check_run_dir(out_dir, "study", force=force, resume=resume)  # before the heavy imports
    from brainalign.studies.pipeline import run_study

    return run_study(demo_config(out_dir), force=force, resume=resume, progress=progress)
