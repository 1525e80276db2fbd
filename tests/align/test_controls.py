"""Control semantics and model labels, defined once in brainalign.align.controls."""
from __future__ import annotations

import torch

from brainalign.align.controls import (
    CONTROLS,
    beta_suffix,
    control_labels,
    label_stem,
    model_label,
    model_rank,
    neural_weight,
    shuffles_pairs,
    uses_contrastive,
)


def test_what_each_control_changes() -> None:
    assert CONTROLS == ("none", "control_beta0", "control_no_contrastive", "control_unpaired")
    assert [neural_weight(control, 10.0) for control in CONTROLS] == [10.0, 0.0, 10.0, 10.0]
    assert [uses_contrastive(control) for control in CONTROLS] == [True, True, False, True]
    assert not uses_contrastive("none", contrastive=False)
    assert [shuffles_pairs(control) for control in CONTROLS] == [False, False, False, True]


def test_labels_and_their_order() -> None:
    assert model_label("none", 10.0, with_beta=False) == "aligned"
    assert model_label("none", 10.0, with_beta=True) == "aligned_beta10"
    assert model_label("control_beta0", 0.0, with_beta=True) == "control_beta0"
    labels = ["control_unpaired", "zeta", "aligned_beta2", "control_beta0", "base", "aligned_beta10"]
    assert sorted(labels, key=model_rank) == ["base", "aligned_beta10", "aligned_beta2", "control_beta0",
                                              "control_unpaired", "zeta"]
    assert [label_stem(label) for label in ("aligned_beta10", "control_beta0", "control_unpaired_beta2")] == [
        "aligned", "control_beta0", "control_unpaired"]


def test_the_controls_of_an_aligned_label_share_its_beta() -> None:
    assert [beta_suffix(label) for label in ("aligned", "aligned_beta10", "control_beta0", "control_unpaired_beta0.5")] \
        == ["", "_beta10", "", "_beta0.5"]
    assert control_labels("aligned") == ["control_beta0", "control_no_contrastive", "control_unpaired"]
    assert control_labels(model_label("none", 10.0, with_beta=True)) == [
        "control_beta0", model_label("control_no_contrastive", 10.0, with_beta=True),
        model_label("control_unpaired", 10.0, with_beta=True)]


def test_trainer_shuffles_targets_only_for_the_unpaired_control() -> None:
    from types import SimpleNamespace

    from brainalign.align.trainer import _training_targets

    targets = torch.arange(12.0).reshape(6, 2).numpy()
    data = SimpleNamespace(train_targets=targets)
    for control, shuffled in (("none", False), ("control_unpaired", True)):
        config = SimpleNamespace(seed=0, training=SimpleNamespace(control=control, unpaired_seed=0,
                                                                  unpaired_shuffle="every_epoch"))
        result = _training_targets(data, config, 1).numpy()
        assert sorted(map(tuple, result)) == sorted(map(tuple, targets))  # same rows
        assert (result != targets).any() == shuffled
