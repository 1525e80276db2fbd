"""load_rdms on .npy/.npz/.mat files written here and on the real Kriegeskorte 2008 file."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.io import savemat
from scipy.spatial.distance import pdist, squareform

from brainalign.data import load_rdms
from brainalign.errors import DataFormatError, ValidationError


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
    np.testing.assert_allclose(load_rdms(tmp_path / "stacked.mat").matrices, rdms)


def test_kriegeskorte_92_brain_rdms(shared_data) -> None:
    matrices, names = load_rdms(shared_data / "kriegeskorte2008_92images" / "original" / "92_brainRDMs.mat")
    assert matrices.shape == (8, 92, 92)
    assert names[0] == "hIT | BE | Session: 1"
    reference = np.load(shared_data / "kriegeskorte2008_92images" / "rdms_92.npz")
    np.testing.assert_allclose(matrices, reference["hIT_subject_session"].reshape(8, 92, 92), rtol=1e-6)
    np.testing.assert_allclose(matrices.mean(0), reference["hIT_fig1_316vox"], rtol=1e-5, atol=1e-6)


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
