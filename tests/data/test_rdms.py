"""The RDMs type's files: RDMs.save/load round trips (measure, descriptors, stimulus descriptors), the one
reader of plain .npy/.npz/.mat files (written here and the real Kriegeskorte 2008 file), and rsatoolbox."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.io import savemat
from scipy.spatial.distance import pdist, squareform

from brainalign.data import RDMs, Responses
from brainalign.errors import DataFormatError, ValidationError


def load_rdms(path, key=None) -> tuple[np.ndarray, list[str]]:
    """Square matrices and names of a plain RDM file, through the one reader."""
    rdms = RDMs.load(path, key=key)
    assert rdms.dissimilarity_measure is None and rdms.stimulus_ids == [str(i) for i in range(rdms.n_stimuli)]
    return rdms.matrices(), list(rdms.descriptors["name"])


def random_rdms(k: int, n: int = 7) -> np.ndarray:
    rng = np.random.default_rng(k)
    return np.stack([squareform(pdist(rng.normal(size=(n, 5)), "correlation")) for _ in range(k)])


def test_npy_square_stack_and_condensed(tmp_path) -> None:
    rdms = random_rdms(3)
    np.save(tmp_path / "one.npy", rdms[0])
    np.save(tmp_path / "stack.npy", rdms)
    np.save(tmp_path / "condensed.npy", np.stack([squareform(r) for r in rdms]))
    matrices, names = load_rdms(tmp_path / "one.npy")
    assert matrices.shape == (1, 7, 7) and names == ["one"]
    for name in ("stack.npy", "condensed.npy"):
        matrices, names = load_rdms(tmp_path / name)
        np.testing.assert_allclose(matrices, rdms)
        assert len(names) == 3


def test_npz_names_and_key(tmp_path) -> None:
    rdms = random_rdms(2)
    np.savez(tmp_path / "r.npz", model_rdms=rdms, model_names=np.array(["a", "b"]), labels=np.array(["x"] * 7),
             brain=random_rdms(1)[0])
    matrices, names = load_rdms(tmp_path / "r.npz")
    assert names == ["a", "b", "brain"] and matrices.shape == (3, 7, 7)
    matrices, names = load_rdms(tmp_path / "r.npz", key="brain")
    assert names == ["brain"]
    with pytest.raises(DataFormatError, match="no array 'nope'"):
        load_rdms(tmp_path / "r.npz", key="nope")


def test_mat_struct_and_matlab_stack(tmp_path) -> None:
    rdms = random_rdms(3)
    structs = np.array([(rdm, f"subject {i}") for i, rdm in enumerate(rdms)],
                       dtype=[("RDM", object), ("name", object)])
    savemat(tmp_path / "structs.mat", {"RDMs": structs})
    matrices, names = load_rdms(tmp_path / "structs.mat")
    np.testing.assert_allclose(matrices, rdms)
    assert names == ["subject 0", "subject 1", "subject 2"]
    savemat(tmp_path / "stacked.mat", {"rdms": np.moveaxis(rdms, 0, -1)})  # MATLAB stacks on the last axis
    np.testing.assert_allclose(load_rdms(tmp_path / "stacked.mat")[0], rdms)


def test_kriegeskorte_92_brain_rdms(shared_data) -> None:
    matrices, names = load_rdms(shared_data / "kriegeskorte2008_92images" / "original" / "92_brainRDMs.mat")
    assert matrices.shape == (8, 92, 92)
    assert names[0] == "hIT | BE | Session: 1"
    reference = np.load(shared_data / "kriegeskorte2008_92images" / "rdms_92.npz")
    np.testing.assert_allclose(matrices, reference["hIT_subject_session"].reshape(8, 92, 92), rtol=1e-6)
    np.testing.assert_allclose(matrices.mean(0), reference["hIT_fig1_316vox"], rtol=1e-5, atol=1e-6)
    descriptors = RDMs.load(shared_data / "kriegeskorte2008_92images" / "original" / "92_brainRDMs.mat").descriptors
    assert list(descriptors["subject"]) == ["BE", "BE", "KO", "KO", "SN", "SN", "TI", "TI"]  # from the toolbox names
    assert list(descriptors["session"]) == [1, 2] * 4 and set(descriptors["roi"]) == {"hIT"}


def test_bad_files(tmp_path) -> None:
    similarity = 1 - random_rdms(1)[0]
    np.save(tmp_path / "similarity.npy", similarity)
    with pytest.raises(ValidationError, match="non-zero diagonal"):
        load_rdms(tmp_path / "similarity.npy")
    asymmetric = random_rdms(1)[0]
    asymmetric[0, 1] += 0.5
    np.save(tmp_path / "asym.npy", asymmetric)
    with pytest.raises(ValidationError, match="not symmetric"):
        load_rdms(tmp_path / "asym.npy")
    np.save(tmp_path / "ok.npy", random_rdms(2))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "ok.npy").read_bytes()[:300])
    with pytest.raises(DataFormatError, match="truncated"):
        load_rdms(tmp_path / "cut.npy")
    np.save(tmp_path / "vector.npy", np.arange(5.0))
    with pytest.raises(DataFormatError, match="no square matrices"):
        load_rdms(tmp_path / "vector.npy")
    (tmp_path / "rdm.txt").write_text("0 1\n1 0\n")
    with pytest.raises(DataFormatError, match="suffix"):
        load_rdms(tmp_path / "rdm.txt")


def _measured(measure: str | None = "correlation") -> RDMs:
    rng = np.random.default_rng(3)
    return RDMs(rng.random((3, 10)), list("vwxyz"), pd.DataFrame({"layer": ["V1", "V2", "IT"], "time": [0.1, 0.2, np.nan]}),
                measure, pd.DataFrame({"concept": ["cat", "dog", "cat", "car", "cup"], "size": [1, 2, 1, 3, 1]}))


def test_save_load_keeps_measure_and_every_descriptor(tmp_path) -> None:
    rdms = _measured()
    loaded = RDMs.load(rdms.save(tmp_path / "rdms.npz"))
    np.testing.assert_array_equal(loaded.dissimilarities, rdms.dissimilarities)
    assert loaded.stimulus_ids == rdms.stimulus_ids and loaded.dissimilarity_measure == "correlation"
    pd.testing.assert_frame_equal(loaded.descriptors, rdms.descriptors)
    pd.testing.assert_frame_equal(loaded.stimulus_descriptors, rdms.stimulus_descriptors)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match="bad.npz"):
        RDMs.load(tmp_path / "bad.npz")
    responses = Responses(np.zeros((5, 2, 3)), list("vwxyz"), "fmri")
    with pytest.raises(DataFormatError, match="not an RDMs file.*brainalign rdm"):
        RDMs.load(responses.save(tmp_path / "responses.npz"))


def test_version_1_files_still_load(tmp_path) -> None:
    meta = {"format": "brainalign.RDMs", "version": 1, "stimulus_ids": list("abc"),
            "descriptors": [{"layer": "IT"}], "descriptor_columns": ["layer"]}
    np.savez(tmp_path / "old.npz", dissimilarities=np.array([[0.1, 0.2, 0.3]]), meta=np.array(json.dumps(meta)))
    old = RDMs.load(tmp_path / "old.npz")
    assert old.dissimilarity_measure is None and list(old.descriptors["layer"]) == ["IT"]
    assert old.stimulus_descriptors.shape == (3, 0)


def test_selection_keeps_measure_and_reorders_stimulus_descriptors() -> None:
    rdms = _measured()
    subset = rdms.subset_stimuli(["z", "v", "x"])
    assert list(subset.stimulus_descriptors["concept"]) == ["cup", "cat", "cat"]
    assert subset.dissimilarity_measure == rdms[1:].dissimilarity_measure == rdms.select(layer="IT").dissimilarity_measure
    assert RDMs.concat([rdms, rdms]).dissimilarity_measure == "correlation"
    with pytest.raises(ValidationError, match="different dissimilarity measures"):
        RDMs.concat([rdms, _measured("decoding_accuracy")])


def test_provenance_is_saved_and_kept_by_selections(tmp_path) -> None:
    from dataclasses import replace

    from brainalign.provenance import Provenance

    record = Provenance("cornet_z", "cornet_z", "cornet_z", None, None, None, 0, 32, (0.5, 0.5, 0.5),
                        (0.25, 0.25, 0.25), ("V1", "V2", "IT"))
    rdms = replace(_measured(), provenance=record)
    loaded = RDMs.load(rdms.save(tmp_path / "rdms.npz"))
    assert loaded.provenance == record and loaded.provenance.brainalign_version == "0.1.0"
    assert rdms[1:].provenance == rdms.subset_stimuli(["z", "v"]).provenance == record
    assert RDMs.concat([rdms, rdms]).provenance == record
    assert RDMs.concat([rdms, _measured()]).provenance is None  # RDMs of several sources
    assert RDMs.load(_measured().save(tmp_path / "plain.npz")).provenance is None


@pytest.mark.parametrize("raised", [ZeroDivisionError("integer division or modulo by zero"),
                                    UnboundLocalError("local variable 'arr' referenced before assignment"),
                                    IndexError("index out of range")])
def test_a_mat_file_scipy_chokes_on_is_one_error_naming_it(raised: Exception, tmp_path, monkeypatch) -> None:
    """What scipy's loadmat raises from inside its parser on damaged MAT files (found by fuzzing it)."""
    import scipy.io

    def choke(*args: object, **kwargs: object) -> None:
        raise raised

    monkeypatch.setattr(scipy.io, "loadmat", choke)
    path = tmp_path / "damaged.mat"
    path.write_bytes(b"MATLAB 5.0 MAT-file, damaged")
    with pytest.raises(DataFormatError, match=r"damaged\.mat is not a readable MATLAB file"):
        RDMs.load(path)
