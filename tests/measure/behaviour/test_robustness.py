"""Adversarial robustness: FGSM/PGD in pixel space through torchattacks, epsilon grids, tables, figures."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from brainalign.errors import ValidationError
from brainalign.measure import accuracy, attack_accuracy
from brainalign.measure.behaviour.robustness import compare_robustness, parse_eps, perturb
from brainalign.report import table_path, write_table
from brainalign.report.figures import plot_robustness

NORMALIZATION = ((0.5, 0.4, 0.3), (0.25, 0.2, 0.3))


def colour_task(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Easy 3-class task: the class is the brightest colour channel. Pixels (n, 3, 16, 16) in [0, 1]."""
    labels = torch.randint(0, 3, (n,), generator=generator)
    images = 0.3 + 0.2 * torch.rand(n, 3, 16, 16, generator=generator)
    images[torch.arange(n), labels] += 0.35
    return images.clamp(0, 1), labels


@pytest.fixture(scope="module")
def trained():
    """A tiny CNN trained (< 1 s) on the colour task, on normalised inputs; plus held-out test data."""
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3)
    )
    images, labels = colour_task(256, generator)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in NORMALIZATION)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        optimiser.zero_grad()
        nn.functional.cross_entropy(model((images - mean) / std), labels).backward()
        optimiser.step()
    test_images, test_labels = colour_task(64, generator)
    return model.eval(), test_images, test_labels


def reference_fgsm(model, pixels, labels, eps):
    """Hand-written FGSM: one signed-gradient step on the pixels, normalisation inside the forward pass."""
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in NORMALIZATION)
    pixels = pixels.clone().requires_grad_(True)
    loss = nn.functional.cross_entropy(model((pixels - mean) / std), labels)
    (gradient,) = torch.autograd.grad(loss, pixels)
    return (pixels + eps * gradient.sign()).clamp(0, 1).detach()


def test_torchattacks_fgsm_with_normalisation_matches_reference(trained):
    model, images, labels = trained
    ours = perturb(model, images, labels, 0.03, "fgsm", NORMALIZATION)
    torch.testing.assert_close(ours, reference_fgsm(model, images, labels, 0.03), atol=1e-6, rtol=0)


def test_torchattacks_pgd_with_normalisation_matches_reference(trained):
    model, images, labels = trained
    eps, steps = 0.05, 3
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in NORMALIZATION)
    torch.manual_seed(7)  # the same uniform random start perturb draws with seed=7
    adversarial = (images + torch.empty_like(images).uniform_(-eps, eps)).clamp(0, 1)
    for _ in range(steps):
        adversarial.requires_grad_(True)
        loss = nn.functional.cross_entropy(model((adversarial - mean) / std), labels)
        (gradient,) = torch.autograd.grad(loss, adversarial)
        stepped = adversarial.detach() + 2.5 * eps / steps * gradient.sign()
        adversarial = (images + (stepped - images).clamp(-eps, eps)).clamp(0, 1)
    ours = perturb(model, images, labels, eps, "pgd", NORMALIZATION, steps=steps, seed=7)
    torch.testing.assert_close(ours, adversarial, atol=1e-5, rtol=0)


def test_fgsm_at_eps_zero_gives_clean_accuracy(trained):
    model, images, labels = trained
    clean = accuracy(model, images, labels, normalize=NORMALIZATION, progress=False)
    assert clean.top1 > 0.9  # the tiny model learned the task
    for attack in ("fgsm", "pgd"):
        table = attack_accuracy(model, images, labels, [0.0], attack, NORMALIZATION, batch_size=40, progress=False)
        assert table.loc[0, "top1"] == pytest.approx(clean.top1)
        assert table.loc[0, "top5"] == pytest.approx(clean.top5)
        assert table.loc[0, "top1_aligned"] == pytest.approx(0.0)


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_accuracy_does_not_rise_with_eps(trained, attack):
    model, images, labels = trained
    eps = [0.0, 0.05, 0.1, 0.2, 0.3]
    table = attack_accuracy(model, images, labels, eps, attack, NORMALIZATION, steps=5, progress=False)
    assert list(table.columns[:5]) == ["eps", "top1", "top5", "top1_aligned", "top5_aligned"]
    assert table["eps"].tolist() == eps
    assert np.all(np.diff(table["top1"]) <= 0)
    assert table["top1"].iloc[-1] < table["top1"].iloc[0] - 0.5  # the attack really hurts
    np.testing.assert_allclose(table["top1_aligned"], table["top1"] - table["top1"].iloc[0])


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_perturbation_linf_equals_eps_and_pixels_stay_in_range(trained, attack):
    model, images, labels = trained
    images = images.clone()
    images[:4] = images[:4].round()  # some pixels at exactly 0 or 1, where clipping must hold
    for eps in (0.01, 0.06):
        adversarial = perturb(model, images, labels, eps, attack, NORMALIZATION, steps=5)
        change = (adversarial - images).abs()
        assert change.max().item() == pytest.approx(eps, abs=1e-6)
        assert change.max().item() <= eps + 1e-7
        assert adversarial.min() >= 0 and adversarial.max() <= 1
        assert torch.equal(images, images.clamp(0, 1))  # the input is not modified in place


def test_normalisation_defaults_to_the_models_own(trained):
    model, images, labels = trained
    model.mean, model.std = NORMALIZATION  # as a LayeredModel declares them
    try:
        default = attack_accuracy(model, images, labels, [0.0, 0.1], progress=False)
    finally:
        del model.mean, model.std
    explicit = attack_accuracy(model, images, labels, [0.0, 0.1], normalize=NORMALIZATION, progress=False)
    np.testing.assert_allclose(default["top1"], explicit["top1"])


def test_several_models_make_one_table_and_figure(trained, tmp_path):
    model, images, labels = trained
    blind = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 3))
    table = compare_robustness(
        {"base": model, "control": blind}, images[:32], labels[:32], [0.0, 0.1], ("fgsm", "pgd"),
        normalize=NORMALIZATION, steps=2, progress=False,
    )
    assert table["model"].tolist() == ["base"] * 4 + ["control"] * 4
    assert table["attack"].tolist() == ["fgsm", "fgsm", "pgd", "pgd"] * 2
    csv = write_table(table, table_path(tmp_path, "robustness"), "robustness")  # the one robustness.csv schema
    png, svg = plot_robustness(csv, tmp_path / "robustness")
    assert png.stat().st_size > 1000
    drawing = svg.read_text()
    assert drawing.lstrip().startswith("<?xml") and all(f"{model} / {attack}" in drawing
                                                        for model in ("base", "control") for attack in ("fgsm", "pgd"))


def test_parse_eps():
    assert parse_eps("0:0.06:0.01") == [0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06]
    assert parse_eps("0,0.03") == [0.0, 0.03]
    for bad in ("0:0.06", "a,b", "0:-1:0.1", "0:1:0", "-0.1"):
        with pytest.raises(ValidationError, match="eps"):
            parse_eps(bad)


def test_bad_input_is_rejected(trained):
    model, images, labels = trained
    with pytest.raises(ValidationError, match="label 3 is outside the model's classes 0..2"):
        attack_accuracy(model, images, torch.where(labels == 1, 3, labels), [0.0], progress=False)
    with pytest.raises(ValidationError, match="expected un-normalised pixels in \\[0, 1\\]"):
        attack_accuracy(model, images * 2 - 0.5, labels, [0.0], progress=False)
    with pytest.raises(ValidationError, match="attack='cw' is unknown"):
        attack_accuracy(model, images, labels, [0.0], attack="cw", progress=False)
    with pytest.raises(ValidationError, match="outside \\[0, 1\\]"):
        attack_accuracy(model, images, labels, [-0.1], progress=False)
    with pytest.raises(ValidationError, match="expected \\(64,\\)"):
        attack_accuracy(model, images, labels[:10], [0.0], progress=False)
