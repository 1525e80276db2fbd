import pytest
import torch

from brainalign.align import EncoderHead, alignment_loss
from brainalign.align.loss import contrastive_term
from brainalign.errors import ValidationError
from brainalign.models import cornet_z


def test_head_shapes_for_cornet_z_layers():
    model = cornet_z(num_classes=5)
    head = EncoderHead.for_model(model, out_features=340, image_size=32)
    assert list(head.layer_sizes) == list(model.layer_names)
    assert [m.out_features for m in head.encoders.values()] == [128] * 4
    assert head.readout.in_features == 512 and head.readout.out_features == 340
    logits, outputs = model.forward_layers(torch.randn(3, 3, 32, 32))
    assert logits.shape == (3, 5)  # the classifier output is kept
    assert head(outputs).shape == (3, 340)


def test_head_any_layers_and_sizes():
    head = EncoderHead({"a.b": 10, "c": 4}, out_features=1024)
    prediction = head({"a.b": torch.randn(2, 2, 5), "c": torch.randn(2, 4)})
    assert prediction.shape == (2, 1024) and head.readout.in_features == 256


def test_head_rejects_wrong_sizes():
    head = EncoderHead({"IT": 8}, out_features=3)
    with pytest.raises(ValidationError, match="image size"):
        head({"IT": torch.randn(2, 9)})
    with pytest.raises(ValidationError, match="lack"):
        head({"V1": torch.randn(2, 8)})


def _batch(batch=6, features=40, classes=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    target = torch.randn(batch, features, generator=generator)
    return (
        torch.randn(batch, classes, generator=generator),
        torch.randint(0, classes, (batch,), generator=generator),
        target + 0.1 * torch.randn(batch, features, generator=generator),
        target,
    )


def test_loss_terms_and_options():
    logits, labels, predicted, target = _batch()
    terms = alignment_loss(logits, labels, predicted, target, beta=10.0)
    expected_ce = torch.nn.functional.cross_entropy(logits, labels)
    torch.testing.assert_close(terms.ce, expected_ce)
    torch.testing.assert_close(terms.mse, ((predicted - target) ** 2).mean())
    torch.testing.assert_close(terms.total, terms.ce + 10.0 * (terms.mse + terms.contrastive))
    assert terms.contrastive < -0.5  # matched pairs far more correlated than mismatched ones
    no_contrast = alignment_loss(logits, labels, predicted, target, beta=10.0, contrastive=False)
    torch.testing.assert_close(no_contrast.total, terms.ce + 10.0 * terms.mse)
    torch.testing.assert_close(no_contrast.contrastive, terms.contrastive)  # still reported
    control = alignment_loss(logits, labels, predicted, target, beta=0.0)
    torch.testing.assert_close(control.total, control.ce)
    pearson = alignment_loss(logits, labels, predicted, target, beta=1.0, correlation="pearson")
    assert abs(float(pearson.contrastive - terms.contrastive)) < 0.1


def test_contrastive_definition_against_explicit_pairs():
    _, _, predicted, target = _batch(batch=4, features=30, seed=1)
    rho = torch.corrcoef(torch.cat([predicted, target]))[:4, 4:]
    off = [(1 - rho[i, j]) for i in range(4) for j in range(4) if i != j]
    expected = (1 - rho.diagonal()).mean() - torch.stack(off).mean()
    torch.testing.assert_close(contrastive_term(predicted, target, "pearson"), expected, atol=1e-5, rtol=1e-5)


def test_contrastive_term_alone_changes_encoder_weights():
    """The soft-rank contrastive term must move the head (a hard-rank Spearman would not)."""
    torch.manual_seed(0)
    head = EncoderHead({"IT": 12}, out_features=20)
    before = {name: p.detach().clone() for name, p in head.named_parameters()}
    features = {"IT": torch.randn(5, 12)}
    target = torch.randn(5, 20)
    contrastive_term(head(features), target).backward()
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-3)
    optimizer.step()
    changed = [name for name, p in head.named_parameters() if not torch.equal(p.detach(), before[name])]
    assert {"encoders.layer0.weight", "readout.weight"} <= set(changed)
    assert head.readout.weight.grad.abs().sum() > 0


def test_loss_rejects_mismatched_shapes_and_tiny_batches():
    logits, labels, predicted, target = _batch()
    with pytest.raises(ValidationError, match="out_features"):
        alignment_loss(logits, labels, predicted[:, :5], target, beta=1.0)
    with pytest.raises(ValidationError, match="at least 2"):
        contrastive_term(predicted[:1], target[:1])


def test_head_on_a_torchvision_backbone():
    from brainalign.models import backbone

    model = backbone("resnet18", layers=["layer2", "layer4"], num_classes=7)
    head = EncoderHead.for_model(model, out_features=1024, image_size=32)
    assert head.layer_sizes == {"layer2": 128 * 4 * 4, "layer4": 512 * 1 * 1}
    logits, outputs = model.forward_layers(torch.randn(2, 3, 32, 32), list(head.layer_sizes))
    assert logits.shape == (2, 7) and head(outputs).shape == (2, 1024)
