"""Similarity across subjects per model RDM and target: mean, SEM, two-sided t-test, noise ceiling, and
its figure with readable tick labels."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from scipy import stats

from brainalign.data import RDMs
from brainalign.measure import compare, noise_ceiling
from brainalign.measure.rsa.across_subjects import subject_statistics
from brainalign.report.quicklook import similarity_figure

N_STIMULI = 12
N_PAIRS = N_STIMULI * (N_STIMULI - 1) // 2


def _rdms(vectors: np.ndarray, **descriptors) -> RDMs:
    return RDMs(np.abs(vectors), [f"s{i}" for i in range(N_STIMULI)], descriptors or None)


def _planted(n_subjects: int = 6, seed: int = 0) -> tuple[RDMs, RDMs]:
    """Two model RDMs ("brainlike": the subjects' shared RDM; "random") and one RDM per subject."""
    rng = np.random.default_rng(seed)
    shared = rng.random(N_PAIRS)
    models = _rdms(np.stack([shared, rng.random(N_PAIRS)]), layer=["brainlike", "random"])
    subjects = _rdms(shared + rng.normal(0, 0.3, (n_subjects, N_PAIRS)) + 1.0,
                     subject=[f"sub-{k}" for k in range(n_subjects)])
    return models, subjects


def test_a_planted_effect_is_found_and_a_random_model_is_not() -> None:
    models, subjects = _planted()
    table = subject_statistics(models, subjects).set_index("layer")
    per_subject = compare(models, subjects)  # (2 models, 6 subjects)
    for row, layer in enumerate(["brainlike", "random"]):
        expected = stats.ttest_1samp(per_subject[row], 0.0)
        assert table.loc[layer, "n"] == 6
        assert table.loc[layer, "mean"] == pytest.approx(per_subject[row].mean())
        assert table.loc[layer, "sem"] == pytest.approx(stats.sem(per_subject[row]))
        assert table.loc[layer, "p_value"] == pytest.approx(expected.pvalue)
        assert table.loc[layer, "ci_low"] < table.loc[layer, "mean"] < table.loc[layer, "ci_high"]
    assert table.loc["brainlike", "p_corrected"] < 1e-3 and table.loc["random", "p_corrected"] > 0.05
    np.testing.assert_allclose(table.loc["brainlike", ["p_corrected"]], min(1.0, 2 * table["p_value"].min()))
    lower, upper = noise_ceiling(subjects)
    assert (table["ceiling_lower"] == lower).all() and (table["ceiling_upper"] == upper).all() and lower < upper
    assert "two-sided" in table["test"].iloc[0] and "subjects" in table["unit"].iloc[0]


def test_subjects_are_the_unit_and_targets_are_time_points_or_rois() -> None:
    models, subjects = _planted(n_subjects=4)
    sessions = RDMs(np.concatenate([subjects.dissimilarities, subjects.dissimilarities[::-1] * 1.1]),
                    subjects.stimulus_ids, {"subject": list(subjects.descriptors["subject"]) * 2})
    table = subject_statistics(models, sessions)
    assert (table["n"] == 4).all()  # two RDMs of one subject are averaged, not counted twice
    unlabelled = subject_statistics(models, sessions, subject_column="participant")
    assert (unlabelled["n"] == 8).all() and "no 'participant' descriptor" in unlabelled["unit"].iloc[0]
    times = [0.0, 0.1, 0.2]
    eeg = RDMs(np.tile(subjects.dissimilarities, (3, 1)), subjects.stimulus_ids,
               {"subject": list(subjects.descriptors["subject"]) * 3, "time": np.repeat(times, 4),
                "time_index": np.repeat([0, 1, 2], 4)})
    courses = subject_statistics(models, eeg)
    assert len(courses) == 2 * 3 and list(courses["time"].unique()) == times and "time_index" not in courses
    assert (courses["n"] == 4).all() and courses["p_corrected"].max() <= 1.0
    one = subject_statistics(models, subjects[np.array([0])])
    assert (one["n"] == 1).all() and one["p_value"].isna().all() and one["ceiling_lower"].isna().all()


def _xtick_boxes(figure):
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    axis = figure.axes[0]
    boxes = [label.get_window_extent(canvas.get_renderer()) for label in axis.get_xticklabels() if label.get_text()]
    return boxes, figure.bbox


@pytest.mark.parametrize("n_models, n_rois", [(14, 1), (3, 6), (1, 1)])
def test_figure_tick_labels_never_overlap(n_models: int, n_rois: int) -> None:
    rng = np.random.default_rng(3)
    layers = [f"module{k}.block.conv_long_name" for k in range(n_models)]
    models = _rdms(rng.random((n_models, N_PAIRS)), layer=layers)
    rois = [f"ROI number {k}" for k in range(n_rois)]
    subjects = _rdms(rng.random((4 * n_rois, N_PAIRS)), subject=[f"sub-{k}" for k in range(4)] * n_rois,
                     roi=np.repeat(rois, 4))
    figure = similarity_figure(subject_statistics(models, subjects))
    boxes, page = _xtick_boxes(figure)
    assert len(boxes) == (n_models if n_rois == 1 else n_rois)
    for first, second in zip(boxes, boxes[1:]):
        assert not first.overlaps(second)
    assert all(page.x0 <= box.x0 and box.x1 <= page.x1 and box.y0 >= page.y0 for box in boxes)
