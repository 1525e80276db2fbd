"""`brainalign rdm` / `brainalign rsa` end to end on small files, and neural_rdms on responses."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import squareform

from brainalign.cli import run
from brainalign.data import RDMs
from brainalign.measure import compare, compute_rdms
from brainalign.measure.rsa.neural import neural_rdms


@pytest.fixture()
def files(tmp_path):
    from brainalign.data import Responses

    rng = np.random.default_rng(0)
    features = rng.standard_normal((10, 40)).astype(np.float32)
    np.save(tmp_path / "features.npy", features)
    ids = [f"s{i}" for i in range(10)]
    eeg = Responses(rng.standard_normal((10, 8, 4, 3)), ids, "eeg", subject="sub-01", channels=list("abcd"),
                    times=[0.0, 0.01, 0.02], sfreq=100.0)
    fmri = Responses(rng.standard_normal((10, 2, 30)), ids, "fmri", subject="sub-01",
                     rois={"V1": np.arange(10), "LOC": np.arange(10, 30)})
    eeg.save(tmp_path / "eeg.npz")
    fmri.save(tmp_path / "fmri.npz")
    return tmp_path, features, eeg, fmri


def test_neural_rdms_for_eeg_and_fmri(files) -> None:
    _, _, eeg, fmri = files
    per_time = neural_rdms(eeg, eeg_method="correlation")
    assert per_time.n_rdms == 3 and list(per_time.descriptors["time"]) == [0.0, 0.01, 0.02]
    expected = compute_rdms(eeg.data.mean(axis=1)[:, :, 1])
    np.testing.assert_allclose(per_time.dissimilarities[1], expected.dissimilarities[0], atol=1e-6)
    decoded = neural_rdms(eeg, classifier="ncm", n_permutations=1, progress=False)
    assert decoded.n_rdms == 3 and decoded.dissimilarities.max() <= 1
    rois = neural_rdms(fmri)
    assert list(rois.descriptors["roi"]) == ["V1", "LOC"] and rois.stimulus_ids == eeg.stimulus_ids
    np.testing.assert_allclose(rois.dissimilarities[1],
                               compute_rdms(fmri.data.mean(axis=1)[:, 10:30]).dissimilarities[0], atol=1e-6)


def test_rdm_and_rsa_commands(files) -> None:
    folder, features, _, _ = files
    assert run(["rdm", str(folder / "features.npy"), "--out", str(folder / "model.npz")]) == 0
    model = RDMs.load(folder / "model.npz")
    assert (folder / "model.png").exists() and model.n_rdms == 1
    assert run(["rdm", str(folder / "features.npy"), "--out", str(folder / "model.npz")]) == 2  # exists
    assert run(["rdm", str(folder / "eeg.npz"), "--out", str(folder / "eeg_rdms.npz"),
                "--classifier", "shared_lda", "--permutations", "1"]) == 0
    assert run(["rsa", str(folder / "model.npz"), str(folder / "eeg_rdms.npz"), "--out", str(folder / "eeg")]) == 0
    table = pd.read_csv(folder / "eeg" / "rsa.csv")
    assert len(table) == 3 and (folder / "eeg" / "rsa.png").exists()
    eeg_rdms = RDMs.load(folder / "eeg_rdms.npz")
    assert (eeg_rdms.dissimilarity_measure, model.dissimilarity_measure) == ("decoding_accuracy", "correlation")
    assert table["similarity"].iloc[0] == pytest.approx(compare(model.dissimilarities, eeg_rdms[0].dissimilarities)[0, 0])
    summary = pd.read_csv(folder / "eeg" / "rsa_summary.csv")  # one subject: no spread, no test
    assert list(summary["time"]) == [0.0, 0.01, 0.02] and (summary["n"] == 1).all() and summary["p_value"].isna().all()
    assert run(["rsa", str(folder / "model.npz"), str(folder / "fmri.npz"), "--out", str(folder / "fmri")]) == 0
    assert list(pd.read_csv(folder / "fmri" / "rsa.csv")["roi"]) == ["V1", "LOC"]
    assert run(["rsa", str(folder / "model.npz"), str(folder / "fmri.npz"), "--out", str(folder / "bad"),
                "--correction", "sidak"]) == 2 and not (folder / "bad").exists()
    assert run(["rsa", str(folder / "model.npz"), str(folder / "missing.txt"), "--out", str(folder / "x")]) == 2


def test_rsa_against_matlab_rdm_file(shared_data, tmp_path, capsys) -> None:
    """`brainalign rsa` reads the 92-image human IT RDMs from the original MATLAB file."""
    from scipy.stats import spearmanr

    mat = shared_data / "kriegeskorte2008_92images" / "original" / "92_brainRDMs.mat"
    features = np.random.default_rng(1).standard_normal((92, 50))
    np.save(tmp_path / "features.npy", features)
    assert run(["rsa", str(tmp_path / "features.npy"), str(mat), "--out", str(tmp_path / "rsa")]) == 0
    table = pd.read_csv(tmp_path / "rsa" / "rsa.csv")
    loaded = RDMs.load(mat)
    names = list(loaded.descriptors["name"])
    assert len(table) == len(names) == 8
    model_rdm = compute_rdms(features).dissimilarities[0]
    expected = spearmanr(model_rdm, loaded.dissimilarities[0]).statistic
    assert table.loc[table["name"] == names[0], "similarity"].item() == pytest.approx(expected, abs=1e-9)
    summary = pd.read_csv(tmp_path / "rsa" / "rsa_summary.csv").iloc[0]  # 4 subjects (2 sessions each) as units
    per_subject = table.groupby("subject")["similarity"].mean()
    assert summary["n"] == len(per_subject) == 4 and summary["mean"] == pytest.approx(per_subject.mean())
    assert summary["sem"] == pytest.approx(per_subject.std(ddof=1) / 2)
    assert 0 <= summary["p_value"] <= 1 and summary["ceiling_lower"] < summary["ceiling_upper"]
    assert "noise ceiling" in capsys.readouterr().out


def test_rsa_reads_one_array_of_a_plain_npz_with_key(tmp_path) -> None:
    from scipy.spatial.distance import pdist

    rng = np.random.default_rng(2)
    features = rng.standard_normal((6, 20))
    np.save(tmp_path / "features.npy", features)
    brain = np.stack([squareform(pdist(rng.standard_normal((6, 4)), "correlation")) for _ in range(2)])
    np.savez(tmp_path / "plain.npz", brain=brain, other=brain[:1])
    args = ["rsa", str(tmp_path / "features.npy"), str(tmp_path / "plain.npz"), "--out", str(tmp_path / "rsa")]
    assert run(args + ["--key", "brain"]) == 0
    table = pd.read_csv(tmp_path / "rsa" / "rsa.csv")
    assert list(table["name"]) == ["brain[0]", "brain[1]"]
    assert run(args + ["--key", "nope", "--force"]) == 2


def test_rdm_command_streams_a_features_folder_larger_than_its_memory(tmp_path) -> None:
    # 420 stimuli, two layers; --memory of ~2 KB forces narrow panels, row groups and the scratch file
    rng = np.random.default_rng(4)
    layers = {"V1": rng.standard_normal((420, 3, 5, 5)).astype(np.float32),
              "IT": rng.standard_normal((420, 33)).astype(np.float32)}
    folder = tmp_path / "features"
    folder.mkdir()
    ids = [f"img{i}" for i in range(420)]
    for name, values in layers.items():
        np.save(folder / f"{name}.npy", values.reshape(420, -1))
    (folder / "features.json").write_text(json.dumps(
        {"stimulus_ids": ids, "layers": list(layers), "files": {name: f"{name}.npy" for name in layers}}))
    out = tmp_path / "out" / "rdms.npz"
    assert run(["rdm", str(folder), "--out", str(out), "--memory", "0.000002"]) == 0
    rdms = RDMs.load(out)
    assert rdms.stimulus_ids == ids and list(rdms.descriptors["layer"]) == ["V1", "IT"]
    expected = compute_rdms({name: values.astype(np.float64) for name, values in layers.items()})
    np.testing.assert_allclose(rdms.dissimilarities, expected.dissimilarities, atol=2e-6)
    assert sorted(p.name for p in out.parent.iterdir()) == ["rdms.npz", "rdms.png"]  # scratch file removed


def test_rsa_refuses_rdms_of_different_sizes_without_ids(tmp_path, capsys) -> None:
    rng = np.random.default_rng(5)
    np.save(tmp_path / "features.npy", rng.standard_normal((6, 20)))
    np.savez(tmp_path / "brain.npz", brain=squareform(rng.random(21)))  # a plain RDM on 7 stimuli, no ids
    assert run(["rsa", str(tmp_path / "features.npy"), str(tmp_path / "brain.npz"), "--out", str(tmp_path / "r")]) == 2
    message = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "are on 6 stimuli" in message and "on 7" in message and "--order" in message
    assert not (tmp_path / "r").exists()


def test_rsa_warns_about_an_rdm_without_ids_and_takes_its_order(tmp_path, capsys) -> None:
    """A plain RDM array is assumed to follow the model RDMs' order (with a warning naming --order); with
    --order its rows are matched to the model RDMs' stimuli by id."""
    rng = np.random.default_rng(6)
    ids = [f"img_{i}" for i in range(1, 9)]
    model = compute_rdms(rng.standard_normal((8, 30)), stimulus_ids=ids)
    model.save(tmp_path / "model.npz")
    brain_order = ids[::-1]  # the brain file's rows are in reverse order
    brain = model.subset_stimuli(brain_order).matrices()[0]
    np.savez(tmp_path / "brain.npz", brain=brain)
    (tmp_path / "order.csv").write_text("file\n" + "\n".join(f"images/{i}.png" for i in brain_order) + "\n")
    args = ["rsa", str(tmp_path / "model.npz"), str(tmp_path / "brain.npz")]
    assert run(args + ["--out", str(tmp_path / "assumed")]) == 0
    assert "carry no stimulus ids" in " ".join(capsys.readouterr().err.split())
    assert run(args + ["--order", str(tmp_path / "order.csv"), "--out", str(tmp_path / "ordered")]) == 0
    assert "warning" not in capsys.readouterr().err
    assumed = pd.read_csv(tmp_path / "assumed" / "rsa.csv")["similarity"].item()
    ordered = pd.read_csv(tmp_path / "ordered" / "rsa.csv")["similarity"].item()
    assert ordered == pytest.approx(1.0) and assumed < 0.5
    (tmp_path / "short.csv").write_text("id\n" + "\n".join(ids[:5]) + "\n")
    assert run(args + ["--order", str(tmp_path / "short.csv"), "--out", str(tmp_path / "short")]) == 2
    assert "lists 5 ids" in " ".join(capsys.readouterr().err.split())


def test_92_image_matlab_rdms_map_to_the_shared_stimulus_order(shared_data) -> None:
    """The 92-image .mat RDMs carry no ids; --order stimuli.csv names their rows (img_01..img_92), so they
    are matched to model RDMs in any order; the .mat and the re-packaged .npz agree row for row."""
    from brainalign.data.order import read_order
    from brainalign.measure.rsa.sources import paired_rdms

    folder = shared_data / "kriegeskorte2008_92images"
    order = read_order(folder / "stimuli.csv")
    matlab = RDMs.load(folder / "original" / "92_brainRDMs.mat")
    repackaged = RDMs.load(folder / "rdms_92.npz", key="hIT_subject_session")
    assert not matlab.has_stimulus_ids and matlab.n_stimuli == len(order) == 92
    np.testing.assert_allclose(matlab.dissimilarities, repackaged.dissimilarities, atol=1e-6)
    shuffled = list(np.random.default_rng(7).permutation(order))
    model = compute_rdms(np.random.default_rng(8).standard_normal((92, 16)), stimulus_ids=shuffled)
    models, neural, warnings = paired_rdms(model, matlab, order)
    assert warnings == [] and neural.stimulus_ids == models.stimulus_ids == shuffled
    expected = RDMs(repackaged.dissimilarities, order).subset_stimuli(shuffled)
    np.testing.assert_allclose(neural.dissimilarities, expected.dissimilarities, atol=1e-6)


def test_rsa_across_subject_files_gives_mean_sem_p_and_ceiling(tmp_path, capsys) -> None:
    """Three subjects' EEG responses: per layer and time point the mean, SEM and a two-sided p across subjects
    with the noise ceiling; a subject whose response follows the model's geometry makes the effect."""
    from brainalign.data import Responses

    rng = np.random.default_rng(8)
    ids = [f"s{i}" for i in range(10)]
    features = rng.standard_normal((10, 4))
    compute_rdms(features, stimulus_ids=ids).save(tmp_path / "model.npz")
    files = []
    for k in range(3):  # channels = the model's features plus noise, at every time point
        data = features[:, None, :, None] + rng.normal(0, 0.5, (10, 2, 4, 3))
        files.append(tmp_path / f"sub-0{k}.npz")
        Responses(data, ids, "eeg", subject=f"sub-0{k}", channels=list("abcd"), times=[0.0, 0.1, 0.2],
                  sfreq=10.0).save(files[-1])
    assert run(["rsa", str(tmp_path / "model.npz"), *map(str, files), "--eeg", "correlation",
                "--out", str(tmp_path / "rsa")]) == 0
    summary = pd.read_csv(tmp_path / "rsa" / "rsa_summary.csv")
    per_comparison = pd.read_csv(tmp_path / "rsa" / "rsa.csv")
    assert len(summary) == 3 and (summary["n"] == 3).all() and len(per_comparison) == 9
    assert summary["mean"].to_numpy() == pytest.approx(per_comparison.groupby("time")["similarity"].mean().to_numpy())
    assert (summary["mean"] > 0.5).all() and (summary["p_value"] < 0.05).all()
    assert (summary["ceiling_lower"] <= summary["ceiling_upper"]).all() and summary["ceiling_upper"].notna().all()
    printed = capsys.readouterr().out
    assert "noise ceiling" in printed and "two-sided" in printed and (tmp_path / "rsa" / "rsa.png").exists()
