"""Decoding RDMs: exact agreement with scikit-learn's shrinkage LDA, agreement of the fast variants
with a per-pair scikit-learn reference, and recovery of a known structure."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from brainalign.errors import ValidationError
from brainalign.measure import compare, compute_rdms, decoding_rdms
from brainalign.measure.rsa.decoding import pairwise_lda_accuracy, pseudo_trial_folds


def _eeg(n_stimuli: int = 16, n_trials: int = 16, n_channels: int = 8, n_times: int = 4, gain: float = 0.6,
         seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Trials (n, trials, channels, times) = pattern * envelope(t) + noise; time 0 carries no signal.

    Patterns come from 4 categories (prototype + individual part), so the true RDM has structure."""
    rng = np.random.default_rng(seed)
    prototypes = rng.standard_normal((4, n_channels))
    patterns = prototypes[np.arange(n_stimuli) % 4] + 0.7 * rng.standard_normal((n_stimuli, n_channels))
    envelope = np.linspace(0.0, 1.0, n_times)
    signal = gain * patterns[:, :, None] * envelope[None, None, :]
    trials = signal[:, None] + rng.standard_normal((n_stimuli, n_trials, n_channels, n_times))
    return trials, patterns


def _sklearn_pair_accuracy(train, test, i, j, t, shrinkage) -> float:
    m = train.shape[1]
    features = np.concatenate([train[i, :, :, t], train[j, :, :, t]])
    labels = np.r_[np.zeros(m), np.ones(m)]
    model = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage).fit(features, labels)
    predicted = model.predict(np.stack([test[i, :, t], test[j, :, t]]))
    return 0.5 * (int(predicted[0] == 0) + int(predicted[1] == 1))


@pytest.mark.parametrize(("n_pseudo", "shrinkage", "noise_normalisation"),
                         [(4, 0.05, False), (4, 1.0, True), (3, 0.3, True), (5, 0.05, True)])
def test_lda_equals_sklearn_shrinkage_lda_on_the_same_folds(n_pseudo: int, shrinkage: float,
                                                             noise_normalisation: bool) -> None:
    trials, _ = _eeg(n_stimuli=6, n_trials=10, n_channels=5, n_times=2)
    rows, cols = np.triu_indices(6, k=1)
    for train, test in pseudo_trial_folds(trials, n_pseudo=n_pseudo, n_permutations=1,
                                          noise_normalisation=noise_normalisation, seed=3):
        ours = pairwise_lda_accuracy(train, test, shrinkage, time_chunk=1)
        reference = np.array([[_sklearn_pair_accuracy(train, test, i, j, t, shrinkage) for t in range(2)]
                              for i, j in zip(rows, cols)])
        np.testing.assert_array_equal(ours, reference)


def test_decoding_rdms_agree_with_per_pair_sklearn_reference_on_a_subset() -> None:
    n_times = 4
    trials, _ = _eeg(n_stimuli=10, n_trials=16, n_times=n_times, gain=0.5)
    subset = np.random.default_rng(1).choice(45, size=15, replace=False)
    rows, cols = np.triu_indices(10, k=1)
    folds = list(pseudo_trial_folds(trials, n_pseudo=4, n_permutations=3, noise_normalisation=True, seed=0))
    reference = np.mean([[[_sklearn_pair_accuracy(train, test, rows[p], cols[p], t, 0.1) for p in subset]
                          for t in range(n_times)] for train, test in folds], axis=0)
    for classifier in ("lda", "shared_lda", "ncm"):
        rdms = decoding_rdms(trials, classifier=classifier, n_pseudo=4, n_permutations=3, seed=0, progress=False)
        ours = rdms.dissimilarities[:, subset]
        if classifier == "lda":  # same folds, same classifier: identical accuracies
            np.testing.assert_allclose(ours, reference, atol=1e-12)
        rho = stats.spearmanr(ours.ravel(), reference.ravel())[0]
        assert rho >= 0.9, (classifier, rho)


@pytest.mark.parametrize("classifier", ["lda", "shared_lda", "ncm"])
def test_decoding_recovers_known_structure(classifier: str) -> None:
    trials, patterns = _eeg(n_stimuli=16, n_trials=20, n_times=4, gain=0.4, seed=2)
    rdms = decoding_rdms(trials, classifier=classifier, n_permutations=2, progress=False)
    accuracy = rdms.dissimilarities
    assert abs(accuracy[0].mean() - 0.5) < 0.05  # no signal at time 0: chance
    assert accuracy[3].mean() > 0.7  # strong signal at the last time point
    assert accuracy[3].mean() > accuracy[1].mean() > accuracy[0].mean()
    truth = compute_rdms(patterns, metric="euclidean")
    assert compare(accuracy[1:].mean(axis=0), truth)[0, 0] >= 0.6
    same_category = (np.arange(16)[:, None] % 4 == np.arange(16)[None, :] % 4)[np.triu_indices(16, k=1)]
    assert accuracy[3][same_category].mean() < accuracy[3][~same_category].mean()


def test_decoding_takes_responses_and_keeps_metadata() -> None:
    from brainalign.data import Responses

    trials, _ = _eeg(n_stimuli=5, n_trials=8, n_channels=4, n_times=3)
    responses = Responses(trials, [f"img{i}" for i in range(5)], "eeg", subject="sub-07",
                          channels=[f"C{i}" for i in range(4)], times=[0.0, 0.01, 0.02], sfreq=100.0)
    rdms = decoding_rdms(responses, classifier="shared_lda", n_permutations=1, progress=False)
    assert rdms.n_rdms == 3 and rdms.stimulus_ids[0] == "img0"
    assert list(rdms.descriptors["subject"]) == ["sub-07"] * 3
    np.testing.assert_allclose(rdms.descriptors["time"], [0.0, 0.01, 0.02])
    assert ((rdms.dissimilarities >= 0) & (rdms.dissimilarities <= 1)).all()


def test_decoding_rejects_bad_arguments() -> None:
    trials, _ = _eeg(n_stimuli=4, n_trials=6, n_channels=3, n_times=1)
    with pytest.raises(ValidationError, match="classifier"):
        decoding_rdms(trials, classifier="svm")
    with pytest.raises(ValidationError, match="shrinkage"):
        decoding_rdms(trials, shrinkage=0.0)
    with pytest.raises(ValidationError, match="n_pseudo"):
        decoding_rdms(trials, n_pseudo=20)


def test_many_subjects_in_one_call_equal_the_per_subject_calls() -> None:
    from brainalign.data import Responses

    subjects = [Responses(_eeg(n_stimuli=10, n_trials=12, n_times=3, seed=seed)[0], [f"s{i}" for i in range(10)],
                          "eeg", subject=f"sub-0{seed}", channels=list("abcdefgh"), times=[0.0, 0.01, 0.02])
                for seed in range(3)]
    together = decoding_rdms(subjects, n_permutations=2, progress=False, n_jobs=2)
    assert together.n_rdms == 9 and list(together.descriptors["subject_index"]) == [0] * 3 + [1] * 3 + [2] * 3
    assert list(together.descriptors["subject"][::3]) == ["sub-00", "sub-01", "sub-02"]
    for index, subject in enumerate(subjects):
        alone = decoding_rdms(subject, n_permutations=2, progress=False)
        np.testing.assert_array_equal(together.select(subject_index=index).dissimilarities, alone.dissimilarities)
    with pytest.raises(ValidationError, match="different stimuli"):
        decoding_rdms([subjects[0], subjects[1].data[:8]], progress=False)
