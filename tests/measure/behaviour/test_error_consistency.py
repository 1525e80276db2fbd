"""Error consistency (Geirhos et al. 2020) and loading human trials."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from brainalign.errors import DataFormatError, ValidationError
from brainalign.measure import error_consistency
from brainalign.measure.behaviour.error_consistency import (
    error_consistency_matrix,
    error_consistency_table,
    load_trials,
    short_image_name,
)


def test_error_consistency_equals_hand_computed_value():
    a = [1, 1, 1, 0, 0, 1, 0, 1, 1, 0]
    b = [1, 0, 1, 0, 1, 1, 0, 1, 0, 0]
    # p_a = 0.6, p_b = 0.5; both right or both wrong on trials 1,3,4,6,7,8,10 -> c_obs = 0.7
    # c_exp = 0.6 * 0.5 + 0.4 * 0.5 = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4
    assert error_consistency(a, b) == pytest.approx(0.4)
    assert error_consistency(np.array(a, bool), np.array(b, bool)) == pytest.approx(cohen_kappa_score(a, b))


def test_identical_and_opposite_observers():
    rng = np.random.default_rng(1)
    a = rng.random(50) < 0.6
    assert error_consistency(a, a) == pytest.approx(1.0)
    p = a.mean()  # opposite observer: c_obs = 0, c_exp = 2 p (1 - p)
    assert error_consistency(a, ~a) == pytest.approx(-2 * p * (1 - p) / (1 - 2 * p * (1 - p)))
    assert error_consistency(np.ones(10, bool), np.ones(10, bool)) == 1.0  # c_obs = 1, c_exp = 1


def test_independent_observers_at_matched_accuracy_average_zero():
    rng = np.random.default_rng(2)
    a = rng.random((500, 400)) < 0.7
    b = rng.random((500, 400)) < 0.7
    kappas = np.diag(error_consistency_matrix(a, b))
    assert abs(kappas.mean()) < 0.01
    assert kappas.std() > 0.02  # single pairs scatter, only the expectation is zero
    # dependent observers (b copies a on half the trials) are clearly above zero
    copied = np.where(rng.random((500, 400)) < 0.5, a, b)
    assert np.diag(error_consistency_matrix(a, copied)).mean() > 0.4


def test_matrix_matches_pairwise_function():
    rng = np.random.default_rng(3)
    observers = rng.random((4, 30)) < 0.5
    matrix = error_consistency_matrix(observers)
    expected = [[error_consistency(x, y) for y in observers] for x in observers]
    np.testing.assert_allclose(matrix, expected)


@pytest.mark.parametrize(
    "a, b, match",
    [([1, 0, 1], [1, 0], "same trials"), ([], [], "empty"), ([1, 2, 0], [1, 0, 0], "booleans or 0/1")],
)
def test_bad_correctness_is_rejected(a, b, match):
    with pytest.raises(ValidationError, match=match):
        error_consistency(a, b)


def test_short_image_name_follows_reference_rule():
    assert short_image_name("0000_cl_s01_bw_boat_40_n02951358_5952.JPEG") == "n02951358_5952.JPEG"
    assert short_image_name("0001_s5n_dnn_0_airplane_00_airplane1-bicycle2.png") == "airplane1-bicycle2.png"
    assert short_image_name("airplane1-bicycle2.png") == "airplane1-bicycle2.png"


def test_human_trials_in_model_vs_human_layout_align_by_image(tmp_path):
    images = [f"img{i}.png" for i in range(8)]
    human_correct = np.array([1, 1, 0, 0, 1, 0, 1, 1], bool)
    rows = [
        {
            "subj": "subject-01",
            "Session": 1,
            "trial": i + 1,
            "rt": 0.8,
            "object_response": "dog" if ok else "cat",
            "category": "dog",
            "condition": "c0",
            "imagename": f"{i + 1:04d}_cl_s01_c0_dog_00_{name}",
        }
        for i, (name, ok) in enumerate(zip(images, human_correct))
    ]
    folder = tmp_path / "raw"
    folder.mkdir()
    pd.DataFrame(rows).to_csv(folder / "texture_subject-01_session_1.csv", index=False)
    trials = load_trials(folder)
    assert trials["image"].tolist() == images
    np.testing.assert_array_equal(trials["correct"], human_correct)
    # model trials (Stimuli ids: folder/stem) in another order, with one image the human never saw
    model_correct = np.array([1, 0, 0, 1, 1, 0, 1, 0], bool)
    order = np.arange(8)[::-1]
    model_trials = pd.DataFrame(
        {"image": [f"dog/img{i}" for i in order] + ["dog/extra"], "correct": list(model_correct[order]) + [True]}
    )
    table = error_consistency_table(model_trials, trials, name_a="model")
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["subject_a"], row["subject_b"], row["n_trials"]) == ("model", "subject-01", 8)
    assert row["kappa"] == pytest.approx(error_consistency(model_correct, human_correct))
    assert row["expected"] == pytest.approx(5 / 8 * 4 / 8 + 3 / 8 * 4 / 8)


def test_plain_layout_with_correct_column(tmp_path):
    path = tmp_path / "trials.csv"
    path.write_text("subject,image,response,correct\ns1,a.png,dog,True\ns1,b.png,cat,0\ns2,a.png,dog,1\ns2,b.png,dog,1\n")
    trials = load_trials(path)
    assert trials["correct"].tolist() == [True, False, True, True]
    table = error_consistency_table(trials, trials)
    assert sorted(zip(table["subject_a"], table["subject_b"])) == [("s1", "s1"), ("s1", "s2"), ("s2", "s1"), ("s2", "s2")]


def test_bad_trial_files_are_named(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("who,what\n1,2\n")
    with pytest.raises(DataFormatError, match="bad.csv.*subject"):
        load_trials(path)
    path.write_text("subject,image,correct\ns1,a.png,maybe\n")
    with pytest.raises(DataFormatError, match="maybe"):
        load_trials(path)
    with pytest.raises(DataFormatError, match="no trial CSV"):
        load_trials(tmp_path / "missing.csv")


def test_unmatched_or_repeated_images_are_rejected():
    a = pd.DataFrame({"image": ["x", "y"], "correct": [True, False]})
    with pytest.raises(ValidationError, match="share no image"):
        error_consistency_table(a, pd.DataFrame({"image": ["z"], "correct": [True]}))
    with pytest.raises(ValidationError, match="'x' appears more than once"):
        error_consistency_table(a, pd.DataFrame({"image": ["x", "x"], "correct": [True, False]}))
