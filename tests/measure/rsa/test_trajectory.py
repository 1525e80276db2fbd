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
