"""Study robustness step: FGSM on held-out labelled images no model was trained on (a config image set, e.g.
ImageNet val, or the simulated observer's held-out labelled set)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from brainalign.align.config import DataConfig
from brainalign.align.data import simulated_observer
from brainalign.models import cornet_z
from brainalign.studies.analyses.robustness import attacked_accuracy
from brainalign.studies.config import EvaluationConfig, load_study_config
from brainalign.studies.context import labelled_images

SIMULATED = DataConfig(source="simulated", image_size=32, simulate={
    "n_subjects": 1, "n_train_categories": 2, "n_test_categories": 2, "train_per_category": 2,
    "test_per_category": 2, "pretrain_per_category": 3, "val_per_category": 3, "image_size": 32})


def test_config_image_set_is_attacked_at_every_epsilon(tmp_path) -> None:
    rng = np.random.default_rng(0)
    for label in ("0", "1"):
        (tmp_path / "val" / label).mkdir(parents=True)
        for index in range(3):
            pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "val" / label / f"img{index}.png")
    evaluation = EvaluationConfig(image_size=32, robustness={"epsilons": [0.0, 0.05], "images": str(tmp_path / "val")})
    labelled = labelled_images(evaluation, SIMULATED)
    assert len(labelled.stimuli) == 6 and sorted(labelled.labels.tolist()) == [0, 0, 0, 1, 1, 1]
    rows = attacked_accuracy(cornet_z(num_classes=2).eval(), labelled, evaluation.robustness, 32)
    assert rows["eps"].tolist() == [0.0, 0.05] and (rows["chance"] == 0.5).all() and "top5" in rows
    assert rows["top1"].between(0, 1).all() and rows["top1"].iloc[1] <= rows["top1"].iloc[0]


def test_simulated_studies_attack_held_out_images_only() -> None:
    labelled = labelled_images(EvaluationConfig(robustness={"epsilons": [0.0, 0.01]}), SIMULATED)
    dataset = simulated_observer(SIMULATED.simulate)
    trained_on = set(dataset.train_stimuli.ids) | set(dataset.pretrain_stimuli.ids)
    assert not set(labelled.stimuli.ids) & trained_on  # neither the alignment nor the pre-training images
    assert len(labelled.stimuli) == 6 and set(labelled.labels.tolist()) == {0, 1}
    assert labelled_images(EvaluationConfig(), SIMULATED.model_copy(update={"source": "files"})) is None


def test_realnet_eeg_config_attacks_imagenet_val_with_the_paper_grid() -> None:
    config = load_study_config(Path(__file__).resolve().parents[2] / "configs" / "realnet_eeg.yaml")
    robustness = config.evaluation.robustness
    assert robustness.attack == "fgsm" and robustness.images == "data/imagenet/val"
    assert np.allclose(robustness.epsilons, np.arange(0, 0.061, 0.01))


def test_a_network_shared_by_every_subject_is_attacked_once(monkeypatch) -> None:
    """The beta-0 run shared by the subjects: one attack, subject 'all' (not one row per subject)."""
    from types import SimpleNamespace

    import pandas as pd

    from brainalign.studies.analyses import robustness as step
    from brainalign.studies.evaluate import TrainedModel

    attacked: list[object] = []
    monkeypatch.setattr(step, "load", lambda run_dir: SimpleNamespace(model=run_dir))
    monkeypatch.setattr(step, "attacked_accuracy", lambda network, *args: attacked.append(network) or
                        pd.DataFrame({"eps": [0.0], "top1": [0.5]}))
    shared = Path("control_beta0_seed0")
    models = [TrainedModel("aligned", subject, 0, Path(subject)) for subject in ("sub-01", "sub-02")] + \
        [TrainedModel("control_beta0", subject, 0, shared) for subject in ("sub-01", "sub-02")]
    context = SimpleNamespace(labelled_images=lambda: "images", models=models, base="base", progress=False,
                              evaluation=EvaluationConfig(robustness={"epsilons": [0.0, 0.01]}))
    rows = step.robustness(context)
    assert attacked == ["base", Path("sub-01"), Path("sub-02"), shared]
    assert rows[["model", "subject"]].values.tolist() == [
        ["base", "all"], ["aligned", "sub-01"], ["aligned", "sub-02"], ["control_beta0", "all"]]
