"""Training-trajectory RSA over checkpoints given as models, weights files and checkpoint folders."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from brainalign.errors import ValidationError
from brainalign.measure import compute_rdms
from brainalign.measure.rsa.trajectory import peak_epochs, rsa_trajectory
from brainalign.models import cornet_z


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from brainalign.data import Stimuli
    from brainalign.measure.features import extract
    from brainalign.models import save_model_file, save_weights

    torch.manual_seed(0)
    images = np.random.default_rng(0).integers(0, 255, (8, 32, 32, 3), dtype=np.uint8)
    stimuli = Stimuli.from_array(images, ids=[f"img{i}" for i in range(8)])
    models = [cornet_z(num_classes=10) for _ in range(2)]
    folder = tmp_path_factory.mktemp("run") / "checkpoints" / "epoch_002"
    save_model_file(models[1], folder / "model.safetensors", "cornet_z")  # a model file, as training writes
    save_weights(models[1], folder.parent / "plain.safetensors")  # weights only: the architecture is needed
    neural_features = extract(models[1], stimuli, layers=["IT"], image_size=32, progress=False)["IT"]
    # neural RDMs on the same ids, given in another order: rsa_trajectory must re-align them
    neural = compute_rdms(neural_features, stimulus_ids=stimuli.ids, descriptors={"roi": "LOC"})
    neural = neural.subset_stimuli(stimuli.ids[::-1])
    return stimuli, models, folder, neural


def test_rsa_trajectory_rows_values_and_peaks(setup) -> None:
    stimuli, models, folder, neural = setup
    checkpoints = [(1, 0, models[0]), (2, 0, folder), (2, 1, folder.parent / "plain.safetensors")]
    table = rsa_trajectory(checkpoints, stimuli, neural, model_name="cornet_z",
                           image_size=32, accuracy={(1, 0): 0.1, (2, 0): 0.2, (2, 1): 0.3}, progress=False)
    assert len(table) == 3 * 4  # checkpoints x layers (V1, V2, V4, IT) x one neural RDM
    assert {"epoch", "seed", "layer", "roi", "similarity", "accuracy"} <= set(table.columns)
    it_epoch2 = table[(table.epoch == 2) & (table.seed == 0) & (table.layer == "IT")]["similarity"].item()
    assert it_epoch2 == pytest.approx(1.0)  # the neural RDMs are this checkpoint's IT RDM
    peaks = peak_epochs(table[table.seed == 0])
    assert (peaks.loc[peaks.layer == "IT", "peak_epoch"] == 2).all()
    assert len(peaks) == 4


def test_rsa_trajectory_reads_model_files_and_needs_a_name_for_weights_files(setup) -> None:
    stimuli, _, folder, neural = setup
    table = rsa_trajectory([(2, 0, folder)], stimuli, neural, layers=["IT"], image_size=32, progress=False)
    assert table["similarity"].item() == pytest.approx(1.0)
    with pytest.raises(ValidationError, match="does not name its architecture"):
        rsa_trajectory([(1, 0, folder.parent / "plain.safetensors")], stimuli, neural, image_size=32, progress=False)


def _synthetic_trajectory():
    """Two seeds x 5 checkpoints x 2 layers x 2 targets; V1 peaks at epoch 1 (seed 0) and 4 (seed 1) on the
    first target, IT rises to the end; accuracy rises monotonically."""
    import pandas as pd

    epochs = [0.0, 0.5, 1.0, 4.0, 16.0]
    curves = {
        ("V1", "EEG 80 ms"): {0: [0.1, 0.3, 0.5, 0.4, 0.2], 1: [0.1, 0.2, 0.3, 0.6, 0.1]},
        ("IT", "EEG 80 ms"): {0: [0.0, 0.1, 0.2, 0.3, 0.4], 1: [0.0, 0.1, 0.2, 0.3, 0.5]},
        ("V1", "fMRI V1v"): {0: [0.2, 0.2, 0.2, 0.2, 0.2], 1: [0.3, 0.1, 0.1, 0.1, 0.1]},
        ("IT", "fMRI V1v"): {0: [0.5, 0.4, 0.3, 0.2, 0.1], 1: [0.5, 0.4, 0.3, 0.2, 0.0]},
    }
    accuracy = {0: [0.25, 0.3, 0.5, 0.8, 0.9], 1: [0.25, 0.35, 0.45, 0.7, 0.95]}
    rows = [(seed, epoch, layer, target, value, accuracy[seed][index])
            for (layer, target), per_seed in curves.items() for seed, values in per_seed.items()
            for index, (epoch, value) in enumerate(zip(epochs, values))]
    return pd.DataFrame(rows, columns=["seed", "epoch", "layer", "target", "similarity", "accuracy"]), curves, accuracy


def test_summary_peaks_and_accuracy_relation_per_layer_and_target() -> None:
    from brainalign.measure.rsa.trajectory import accuracy_correlations, peak_summary, trajectory_summary

    table, curves, accuracy = _synthetic_trajectory()
    summary = trajectory_summary(table)
    v1 = summary[(summary.layer == "V1") & (summary.target == "EEG 80 ms")].set_index("epoch")
    assert v1.loc[4.0, "mean"] == pytest.approx(0.5) and v1.loc[4.0, "sd"] == pytest.approx(np.std([0.4, 0.6], ddof=1))
    assert v1.loc[4.0, "n"] == 2 and v1.loc[16.0, "accuracy_mean"] == pytest.approx(0.925)

    correlations = accuracy_correlations(table)
    expected = np.corrcoef(curves[("V1", "EEG 80 ms")][1], accuracy[1])[0, 1]
    got = correlations[(correlations.seed == 1) & (correlations.layer == "V1") & (correlations.target == "EEG 80 ms")]
    assert got["accuracy_r"].item() == pytest.approx(expected)
    constant = correlations[(correlations.seed == 0) & (correlations.layer == "V1") & (correlations.target == "fMRI V1v")]
    assert np.isnan(constant["accuracy_r"].item())  # a flat curve has no correlation
    ranks = accuracy_correlations(table, method="spearman")
    it = ranks[(ranks.layer == "IT") & (ranks.target == "fMRI V1v")]["accuracy_r"]
    assert np.allclose(it, -1.0)  # falls while accuracy rises: rank correlation -1 for both seeds

    peaks = peak_summary(table).set_index(["layer", "target"])
    assert len(peaks) == 4  # one row per layer x target
    v1 = peaks.loc[("V1", "EEG 80 ms")]
    assert v1["peak_epoch"] == 4.0 and v1["peak"] == pytest.approx(0.5)  # the seed-mean curve 0.1 .25 .4 .5 .15
    assert v1["seed_peak_epoch_mean"] == pytest.approx(2.5) and v1["seed_peak_epoch_min"] == 1.0
    assert v1["untrained"] == pytest.approx(0.1) and v1["final"] == pytest.approx(0.15)
    assert v1["drop_after_peak"] == pytest.approx(0.35)
    assert peaks.loc[("IT", "EEG 80 ms"), "peak_epoch"] == 16.0
    assert peaks.loc[("IT", "fMRI V1v"), "peak_epoch"] == 0.0  # the untrained network is the best here
    assert peaks.loc[("IT", "fMRI V1v"), "accuracy_r_mean"] < -0.9
    assert (peaks["accuracy_peak_epoch"] == 16.0).all() and (peaks["n_seeds"] == 2).all()
