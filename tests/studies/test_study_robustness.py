"""Study robustness step: FGSM on a labelled image set named in the config (e.g. ImageNet val)."""
from __future__ import annotations

import numpy as np
from PIL import Image

from brainalign.models import cornet_z
from brainalign.studies.config import EvaluationConfig, load_study_config
from brainalign.studies.pipeline import _attack_set, _robustness_rows


def test_config_image_set_is_attacked_at_every_epsilon(tmp_path) -> None:
    rng = np.random.default_rng(0)
    for label in ("0", "1"):
        (tmp_path / "val" / label).mkdir(parents=True)
        for index in range(3):
            pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "val" / label / f"img{index}.png")
    evaluation = EvaluationConfig(image_size=32, robustness={"epsilons": [0.0, 0.05], "images": str(tmp_path / "val")})
    stimuli, labels = _attack_set(evaluation, data=None, labels=None)
    assert len(stimuli) == 6 and sorted(labels.tolist()) == [0, 0, 0, 1, 1, 1]
    rows = _robustness_rows("base", "all", cornet_z(num_classes=2).eval(), (stimuli, labels), evaluation)
    assert [row[2] for row in rows] == [0.0, 0.05]
    assert all(0.0 <= row[3] <= 1.0 for row in rows) and rows[1][3] <= rows[0][3]


def test_robustness_off_or_unlabelled_gives_no_attack_set() -> None:
    assert _attack_set(EvaluationConfig(), data=None, labels=None) is None
    assert _attack_set(EvaluationConfig(robustness={"epsilons": [0.0, 0.01]}), data=None, labels=None) is None


def test_realnet_eeg_config_attacks_imagenet_val_with_the_paper_grid() -> None:
    from pathlib import Path

    config = load_study_config(Path(__file__).resolve().parents[2] / "configs" / "realnet_eeg.yaml")
    robustness = config.evaluation.robustness
    assert robustness.attack == "fgsm" and robustness.images == "data/imagenet/val"
    assert np.allclose(robustness.epsilons, np.arange(0, 0.061, 0.01))
