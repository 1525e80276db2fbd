"""Study configs (YAML, validated with pydantic): which data, which alignment sweep, which analyses.

A study config has four parts:

- ``name``, ``title``, ``out_dir``, ``seed``;
- ``datasets``: what must be on disk before anything runs (name, path, where to get it, the download
  command); a missing one raises :class:`~brainalign.errors.MissingDatasetError` saying all that;
- ``alignment``: a sweep (:class:`brainalign.config.SweepConfig`: subjects x betas x controls x seeds
  and the training template), run by :func:`brainalign.align.run_sweep` into ``RUN_DIR/alignment``;
- ``evaluation``: which analyses run on the held-out stimuli (see :class:`EvaluationConfig`).

Unknown keys and bad values raise :class:`~brainalign.errors.ConfigError` naming the key.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from brainalign.config import SweepConfig, load_config, parse_config
from brainalign.errors import MissingDatasetError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetRequirement(_Strict):
    """A dataset the study reads, and how a user gets it."""

    name: str = Field(..., description="short name, e.g. things-eeg2")
    path: str = Field(..., description="where the study expects it (file or folder)")
    source: str = Field(..., description="where it comes from (publication and repository)")
    fetch: str = Field(..., description="the command that downloads it, e.g. brainalign fetch things-eeg2")


class RobustnessConfig(_Strict):
    """FGSM accuracy of every model on the held-out images, classified into their test categories
    with a nearest-class-mean read-out on the last layer (the models never saw these categories)."""

    epsilons: list[float] = Field(default_factory=lambda: [0.0, 0.002, 0.004, 0.008, 0.016], min_length=2)
    attack: Literal["fgsm"] = "fgsm"


class EvaluationConfig(_Strict):
    """Analyses of the held-out stimuli of every subject."""

    layers: Optional[list[str]] = Field(None, description="model layers compared (default: the model's)")
    image_size: int = Field(224, ge=32, description="image side in pixels for feature extraction")
    rdm_metric: Literal["correlation", "euclidean", "cosine"] = "correlation"
    compare_method: Literal["spearman", "pearson", "kendall_tau_a"] = "spearman"
    headline_layer: Optional[str] = Field(
        None, description="layer of the summary similarity (default: the last compared layer)"
    )
    timecourses: bool = Field(True, description="EEG: similarity per layer and time point")
    timecourse_rdm: Literal["correlation", "decoding"] = Field(
        "correlation", description="EEG RDM per time point: 1 - Pearson over channels, or pairwise decoding"
    )
    decoding_classifier: Literal["lda", "shared_lda", "ncm"] = Field(
        "shared_lda", description="classifier of the decoding RDMs (brainalign.measure.decoding_rdms)"
    )
    significance: Literal["cluster", "fdr"] = Field(
        "cluster", description="time points > base: cluster permutation test, or t-tests with FDR (few subjects)"
    )
    rois: bool = Field(True, description="fMRI: similarity per ROI (best layer)")
    variability: bool = Field(True, description="individual variability between the aligned models")
    trajectory: bool = Field(True, description="similarity and accuracy at every saved epoch")
    dimensions: Optional[str] = Field(
        None, description="object-dimension analysis of the headline layer: 'simulated' (the observer's "
        "generative factors) or a CSV of stimulus id + one column per dimension"
    )
    predictions: int = Field(4, ge=0, description="example images whose predicted responses are drawn")
    permutations: int = Field(1000, ge=100, description="permutations of the cluster test over time")
    robustness: Optional[RobustnessConfig] = None


class StudyConfig(_Strict):
    """One study: data requirements, the alignment sweep, and the evaluation."""

    name: str
    title: Optional[str] = None
    out_dir: str = "runs/study"
    seed: int = 0
    datasets: list[DatasetRequirement] = Field(default_factory=list)
    alignment: SweepConfig = Field(default_factory=SweepConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)


def load_study_config(path: str | os.PathLike[str]) -> StudyConfig:
    """Read and validate a study config YAML file."""
    return load_config(StudyConfig, path)


def parse_study_config(raw: dict, source: str = "study config") -> StudyConfig:
    """Validate a dict as a study config."""
    return parse_config(StudyConfig, raw, source)


def check_datasets(config: StudyConfig) -> None:
    """Raise one MissingDatasetError listing every required dataset that is not on disk."""
    missing = [dataset for dataset in config.datasets if not Path(dataset.path).exists()]
    if not missing:
        return
    lines = [
        f"  - {dataset.name}: expected at {dataset.path}\n      get it from: {dataset.source}\n"
        f"      download with: {dataset.fetch}"
        for dataset in missing
    ]
    raise MissingDatasetError(
        f"study {config.name!r} needs {len(missing)} dataset(s) that are not on disk:\n" + "\n".join(lines)
        + "\nDownload them, or edit the paths under `datasets:` (and the data paths) in the config."
    )
