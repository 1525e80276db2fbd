"""The simulated design can falsify the claims: a planted personalisation effect is found and an absent one is
not; end to end on a tiny observer (4 subjects, 2 epochs: too small to show alignment gains, which the demo
shows), identical brains leave no personalisation effect, image-free responses give alignment no edge over
beta = 0, and models aligned on one modality are scored on the same brains' other modality (both directions)."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest

from brainalign.align import run_sweep
from brainalign.studies import evaluate as ev
from brainalign.studies.analyses import comparisons, cross, ground_truth, similarity
from brainalign.studies.analyses.comparisons import personalisation_rows
from brainalign.studies.config import parse_study_config
from brainalign.studies.context import StudyContext
from brainalign.studies.evaluate import TrainedModel
from brainalign.studies.pipeline import run_analyses
from brainalign.studies.summary import comparison_results

LR = 1e-4
SIMULATE = {"n_subjects": 4, "n_train_categories": 4, "n_test_categories": 4, "train_per_category": 6,
            "test_per_category": 4, "pretrain_per_category": 6, "val_per_category": 2, "train_repetitions": 2,
            "test_repetitions": 4, "image_size": 32}


def _study(root: Path, name: str, cross_modality: str | None = None, **simulate: Any) -> dict[str, dict]:
    """A tiny simulated study (4 subjects, aligned vs beta 0, 2 epochs); its headline comparisons by name."""
    config = parse_study_config({
        "name": name,
        "alignment": {"out_dir": str(root / name), "betas": [10.0], "controls": ["none", "control_beta0"], "train": {
            "model": {"name": "cornet_z", "pretrain": {"epochs": 2, "patience": None, "batch_size": 16}},
            "data": {"source": "simulated", "image_size": 32, "simulate": {**SIMULATE, **simulate}},
            "training": {"epochs": 2, "lr": LR, "batch_size": 8, "beta": 10.0}, "progress": False}},
        "evaluation": {"image_size": 32, "timecourses": False, "rois": False},
        "cross_evaluation": [{"name": f"sim-{cross_modality}", "modality": cross_modality, "simulated": {},
                              "timecourse_rdm": "correlation"}] if cross_modality else []})
    sweep = config.alignment
    run_sweep(sweep)
    sweep_dir = Path(sweep.out_dir)
    context = StudyContext(config, sweep, sweep_dir, ev.base_model(sweep, sweep_dir), ev.trained_models(sweep_dir),
                           progress=False)
    chosen = [similarity.ANALYSIS, cross.SIMILARITY, cross.TIMECOURSES, ground_truth.ANALYSIS, comparisons.ANALYSIS]
    frames = run_analyses(context, root / name, chosen)
    return {entry["comparison"]: entry for entry in comparison_results(frames["comparisons"])}


def test_planted_personalisation_is_found_and_vanishes_with_identical_scores() -> None:
    """Within - cross subject: each subject's models against every subject's data, seeds averaged first."""
    subjects = [f"sub-{index:02d}" for index in range(1, 9)]
    models = [TrainedModel("aligned", subject, seed, Path(f"{subject}/{seed}")) for subject in subjects
              for seed in range(3)]
    same_images = SimpleNamespace(stimuli=SimpleNamespace(ids=["a", "b", "c"]))
    context = cast(StudyContext, SimpleNamespace(subjects=subjects, models=models, held_out=lambda s: same_images))
    rng = np.random.default_rng(0)
    noise = {(model.run_dir, subject): rng.normal(0, 0.01) for model in models for subject in subjects}
    def planted(model: TrainedModel, subject: str) -> float:
        return 0.4 + 0.03 * (model.subject == subject) + noise[model.run_dir, subject]
    rows = personalisation_rows(context, "aligned", planted, "r", "IT")
    assert rows is not None and list(rows["subject"]) == subjects
    found = comparison_results(rows)[0]
    assert found["comparison"] == "aligned: within - cross subject" and found["verdict"] == "holds"
    assert found["mean"] == pytest.approx(0.03, abs=0.01) and found["n"] == 8
    absent = comparison_results(personalisation_rows(
        context, "aligned", lambda model, subject: 0.4 + noise[model.run_dir, subject], "r", "IT"))[0]
    assert absent["verdict"] != "holds" and abs(absent["mean"]) < 0.01


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("design")


def test_identical_brains_leave_no_personalisation_effect(root: Path) -> None:
    """individual_brains = 0 (recordings still differ): no subject's models fit that subject's brain better."""
    found = _study(root, "identical", cross_modality="fmri", individual_brains=0.0, n_voxels=20)
    for name in ("aligned: within - cross subject", "ground truth: aligned: within - cross subject"):
        assert found[name]["verdict"] != "holds", found[name]["statement"]
    assert found["ground truth: aligned: within - cross subject"]["mean"] == pytest.approx(0.0, abs=1e-9)
    entry = found["sim-fmri: aligned - control_beta0"]  # EEG-aligned models on the same brains' fMRI
    assert entry["n"] == 4 and entry["ci_low"] <= entry["mean"] <= entry["ci_high"] and "another modality" in entry["claim"]


def test_image_free_responses_give_alignment_no_edge_over_beta0(root: Path) -> None:
    found = _study(root, "noise", signal_weight=0.0)
    assert found["aligned - control_beta0"]["verdict"] != "holds", found["aligned - control_beta0"]["statement"]


def test_fmri_aligned_models_are_scored_on_the_same_brains_eeg(root: Path) -> None:
    """The reverse direction: align on fMRI-like responses, evaluate on EEG-like ones of the same brains."""
    found = _study(root, "reverse", cross_modality="eeg", modality="fmri", n_voxels=20)
    entry = found["sim-eeg: aligned - control_beta0"]
    assert entry["n"] == 4 and entry["ci_low"] <= entry["mean"] <= entry["ci_high"]
    assert entry["readout"] == "sim-eeg eeg 50-200 ms" and entry["target"] == "IT"
