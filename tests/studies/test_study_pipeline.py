"""The study pipeline end to end on a tiny simulated experiment: every result file, summary and report."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from brainalign.cli import run
from brainalign.data import Responses, Stimuli, simulate
from brainalign.errors import RunExistsError
from brainalign.measure import neural_rdms, noise_ceiling
from brainalign.report import read_table, table_path
from brainalign.report.results import SUMMARY_KEYS
from brainalign.runs import is_finished
from brainalign.studies import run_study

TINY = {
    "name": "tiny",
    "alignment": {
        "betas": [1.0],
        "controls": ["none", "control_unpaired"],
        "train": {
            "model": {"name": "cornet_z", "pretrain": {"epochs": 1, "batch_size": 16}},
            "data": {"source": "simulated", "image_size": 32, "simulate": {
                "n_subjects": 2, "n_train_categories": 3, "n_test_categories": 3, "train_per_category": 4,
                "test_per_category": 3, "pretrain_per_category": 4, "train_repetitions": 2,
                "test_repetitions": 2, "image_size": 32}},
            "training": {"epochs": 2, "lr": 1e-4, "batch_size": 6},
        },
    },
    "evaluation": {"image_size": 32, "predictions": 2, "significance": "fdr", "dimensions": "simulated", "robustness": {"epsilons": [0.0, 0.03]}},
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """TINY plus a cross-evaluation against a simulated fMRI dataset (2 subjects, ROIs) saved as files."""
    root = tmp_path_factory.mktemp("study")
    fmri = simulate(seed=7, modality="fmri", n_subjects=2, n_train_categories=2, n_test_categories=3,
                    train_per_category=2, test_per_category=3, pretrain_per_category=1, image_size=32,
                    n_voxels=20).save(root / "fmri")
    cross = {"name": "simfmri", "modality": "fmri", "responses": str(fmri / "responses" / "{subject}_test.npz"),
             "subjects": ["sub-01", "sub-02"], "stimuli": str(fmri / "test_stimuli.csv"), "image_size": 32}
    return run_study({**TINY, "cross_evaluation": [cross]}, out_dir=str(root / "tiny"), progress=False)


@pytest.mark.slow
def test_study_writes_every_result_and_a_finished_report(tiny_run: Path) -> None:
    assert is_finished(tiny_run)
    summary = json.loads((tiny_run / "summary.json").read_text())
    assert list(summary["models"]) == ["base", "aligned", "control_unpaired"]
    assert summary["subjects"] == ["sub-01", "sub-02"] and summary["target"] == "IT"
    assert summary["simulated"] and "simulated observer" in summary["caveat"]
    similarity = read_table(table_path(tiny_run, "similarity"), "similarity")
    headline = similarity[(similarity["target"] == "IT") & (similarity["readout"] == "whole response")]
    headline = headline.groupby("model")["similarity"].agg(["mean", "sem"])
    for model, values in summary["models"].items():  # the summary is the table's mean and SEM
        assert values["n"] == 2
        assert values["mean"] == pytest.approx(headline.loc[model, "mean"])
        assert values["sem"] == pytest.approx(headline.loc[model, "sem"])
    courses = read_table(table_path(tiny_run, "rsa_timecourses"), "rsa_timecourses")
    assert len(courses) == 3 * 4 * 2 * 20  # models x layers x subjects x time points
    assert set(summary) <= set(SUMMARY_KEYS)  # every key documented
    for model in ("aligned", "control_unpaired"):  # the papers' headline per model: ratio at the peak and over
        eeg = summary["readouts"]["eeg"][model]  # 50-200 ms per layer, two-sided p and confidence intervals
        assert set(eeg) == {"V1", "V2", "V4", "IT"} and all(set(eeg[layer]) == {"peak", "50-200 ms"} for layer in eeg)
        for entry in (entry for layer in eeg.values() for entry in layer.values()):
            assert entry["n"] == 2 and 0 <= entry["p_value"] <= 1 and entry["p_corrected"] >= entry["p_value"]
            assert entry["improvement_ci"][0] <= entry["improvement"] <= entry["improvement_ci"][1]
            assert entry["ratio_ci"][0] <= entry["ratio_ci"][1] and entry["confidence"] == 0.95
    eeg = summary["readouts"]["eeg"]["aligned"]
    assert {test["alternative"] for test in summary["tests"] if test["readout"] in ("eeg peak", "eeg 50-200 ms")} == {
        "two-sided"}
    improvement = read_table(table_path(tiny_run, "improvement"), "improvement")
    peak = improvement.query("model == 'aligned' and reference == 'base' and readout == 'eeg peak' and target == 'IT'")
    assert eeg["IT"]["peak"]["improvement"] == pytest.approx(peak["improvement"].mean())
    ratio = (peak["aligned"].mean() - peak["base"].mean()) / peak["base"].mean()
    assert eeg["IT"]["peak"]["improvement_ratio"] == pytest.approx(ratio)
    assert {test["alternative"] for test in summary["tests"]} == {"two-sided"}
    comparisons = {entry["comparison"]: entry for entry in summary["comparisons"]}  # never against base
    assert set(comparisons) == {"aligned - control_unpaired", "aligned: within - cross subject",
                                "ground truth: aligned - control_unpaired", "ground truth: aligned: within - cross subject"}
    for entry in comparisons.values():
        assert entry["n"] == 2 and entry["ci_low"] <= entry["mean"] <= entry["ci_high"]
        assert entry["verdict"] in ("holds", "not supported", "reversed") and entry["statement"].startswith(
            entry["comparison"])
    per_subject = read_table(table_path(tiny_run, "comparisons"), "comparisons")
    within = per_subject[per_subject["comparison"] == "aligned: within - cross subject"]
    own = similarity.query("model == 'aligned' and target == 'IT' and readout == 'whole response'")
    assert within.set_index("subject")["model_value"].to_dict() == pytest.approx(own.set_index("subject")["similarity"].to_dict())
    truth = read_table(table_path(tiny_run, "ground_truth"), "ground_truth")  # every layer vs every hidden stage
    assert set(truth["stage"]) == {"early", "mid", "high", "object"} and set(truth["layer"]) == {"V1", "V2", "V4", "IT"}
    assert len(truth) == 3 * 2 * 4 * 4 and truth["similarity"].between(-1, 1).all()  # models x subjects x layers x stages
    ceiling = read_table(table_path(tiny_run, "noise_ceiling"), "noise_ceiling")
    readouts = {"whole response", "eeg time course", "cross-dataset roi"}
    assert set(ceiling["readout"]) == readouts and (ceiling["lower"] <= ceiling["upper"]).all()
    assert set(summary["noise_ceiling"]) == readouts
    assert (ceiling["readout"] == "whole response").sum() == 1 and (ceiling["readout"] == "eeg time course").sum() == 20
    significance = read_table(table_path(tiny_run, "rsa_significance"), "rsa_significance")
    assert set(zip(significance["model"], significance["reference"])) == {
        ("aligned", "base"), ("aligned", "control_unpaired"), ("control_unpaired", "base")}
    trajectory = read_table(table_path(tiny_run, "trajectory"), "trajectory")
    assert sorted(trajectory["epoch"].unique()) == [0, 1, 2] and trajectory["accuracy"].between(0, 1).all()
    robustness = read_table(table_path(tiny_run, "robustness"), "robustness")
    assert len(robustness) == (1 + 2 * 2) * 2  # (shared base + models x subjects) x epsilons
    variability = read_table(table_path(tiny_run, "variability"), "variability")
    assert set(variability["layer"]) == {"V1", "V2", "V4", "IT"} and variability["variability"].between(0, 2).all()
    page = (tiny_run / "report.html").read_text()
    assert len(re.findall(r"<img src=\"data:image/png;base64,", page)) == 12  # every figure this study has
    assert "Caveat." in page and page.count("What these numbers mean.") >= 5
    written = yaml.safe_load((tiny_run / "config.yaml").read_text())  # the folders it wrote, no placeholders
    assert written["out_dir"] == str(tiny_run) and written["alignment"]["out_dir"] == str(tiny_run / "alignment")
    timings = json.loads((tiny_run / "timings.json").read_text())
    assert timings["total"] >= timings["report"] > 0


@pytest.mark.slow
def test_finished_study_is_kept(tiny_run: Path) -> None:
    with pytest.raises(RunExistsError):
        run_study(TINY, out_dir=str(tiny_run), progress=False)
    assert run(["study", "--out", str(tiny_run), str(tiny_run / "config.yaml")]) == 2  # the resolved config re-runs
    improvement = pd.read_csv(table_path(tiny_run, "improvement"))
    assert set(improvement["model"]) == {"aligned", "control_unpaired"}
    assert set(improvement["readout"]) == {"whole response", "eeg peak", "eeg 50-200 ms", "simfmri roi best layer"}


@pytest.mark.slow
def test_every_model_is_scored_on_the_cross_dataset(tiny_run: Path) -> None:
    cross = read_table(table_path(tiny_run, "cross_similarity"), "cross_similarity")
    models = {("base", "all")} | {(model, subject) for model in ("aligned", "control_unpaired")
                                  for subject in ("sub-01", "sub-02")}  # every model of every training subject
    assert set(zip(cross["model"], cross["subject"])) == models
    rois = {"V1", "V2", "V3", "V4", "LOC", "VC"}
    assert set(cross["target"]) == rois and set(cross["data_subject"]) == {"sub-01", "sub-02"}
    assert len(cross) == len(models) * 2 * len(rois)  # model x subject x data subject x ROI, once each
    assert not cross.duplicated(["model", "subject", "data_subject", "target"]).any()
    assert cross["similarity"].between(-1, 1).all()
    assert set(cross["layer"]) <= {"V1", "V2", "V4", "IT", "decoder.avgpool"}  # the final pooled layer too
    page = (tiny_run / "report.html").read_text()
    assert 'id="fig-cross_similarity"' in page and 'data-file="figures/cross_similarity.png"' in page
    assert (tiny_run / "figures" / "cross_similarity.png").stat().st_size > 0


def test_cross_dataset_targets_have_noise_ceilings_of_their_own_subjects(tiny_run: Path) -> None:
    """Every ROI of the cross-evaluation entry gets the ceiling of the entry's two subjects' RDMs (repetition
    averaged patterns of the images both saw), computed here from the files the study read."""
    config = yaml.safe_load((tiny_run / "config.yaml").read_text())
    entry = config["cross_evaluation"][0]
    recorded = [Responses.load(entry["responses"].format(subject=subject)) for subject in entry["subjects"]]
    shown = Stimuli.from_csv(entry["stimuli"]).ids
    common = [sid for sid in shown if all(sid in r.stimulus_ids for r in recorded)]
    rdms = [neural_rdms(r.subset(common), "correlation") for r in recorded]
    ceiling = read_table(table_path(tiny_run, "noise_ceiling"), "noise_ceiling").query("readout == 'cross-dataset roi'")
    rois = list(rdms[0].descriptors["roi"])
    assert list(ceiling["target"]) == [f"simfmri {roi}" for roi in rois] and (ceiling["n"] == 2).all()
    for roi, (_, row) in zip(rois, ceiling.iterrows()):
        lower, upper = noise_ceiling(np.vstack([r.select(roi=roi).dissimilarities for r in rdms]), "spearman")
        assert (row["lower"], row["upper"]) == pytest.approx((lower, upper), abs=1e-12)
