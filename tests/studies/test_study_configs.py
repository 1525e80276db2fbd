"""Study configs: every file in configs/ validates; the demo file equals the built-in demo; a missing
dataset gives one message naming where to get it and the download command."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from brainalign.cli import run
from brainalign.data.channels import THINGS_EEG2_CHANNELS
from brainalign.errors import ConfigError, MissingDatasetError
from brainalign.studies import DEMO_CONFIG, check_datasets, load_study_config
from brainalign.studies.config import parse_study_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
REAL_STUDIES = ("realnet_eeg.yaml", "realnet_fmri.yaml", "finetune_trajectory.yaml")


@pytest.mark.parametrize("name", ["demo.yaml", *REAL_STUDIES])
def test_config_files_validate(name: str) -> None:
    config = load_study_config(CONFIGS / name)
    assert config.alignment.controls and config.alignment.betas


def test_demo_file_matches_the_built_in_demo() -> None:
    assert yaml.safe_load((CONFIGS / "demo.yaml").read_text()) == DEMO_CONFIG
    config = parse_study_config(DEMO_CONFIG)
    assert set(config.alignment.controls) == {"none", "control_beta0", "control_no_contrastive", "control_unpaired"}
    assert not config.datasets  # the demo needs nothing on disk


def test_real_studies_follow_the_papers() -> None:
    eeg = load_study_config(CONFIGS / "realnet_eeg.yaml")
    assert len(eeg.alignment.subjects) == 10 and eeg.alignment.betas == [1.0, 10.0, 100.0, 1000.0]
    assert eeg.alignment.train.training.epochs == 30 and eeg.alignment.train.model.name == "cornet_s"
    fmri = load_study_config(CONFIGS / "realnet_fmri.yaml")
    assert len(fmri.alignment.subjects) == 3 and fmri.alignment.train.training.epochs == 5
    assert {30.0, 40.0} <= set(fmri.alignment.betas) and all(10 <= beta <= 50 for beta in fmri.alignment.betas)
    assert len(load_study_config(CONFIGS / "finetune_trajectory.yaml").alignment.seeds) > 1
    assert [(cross.modality, len(cross.subjects)) for cross in eeg.cross_evaluation] == [("fmri", 3)]
    assert [(cross.modality, len(cross.subjects)) for cross in fmri.cross_evaluation] == [("eeg", 10)]
    # the papers' targets: ReAlnet 17 O/P channels x [0, 200) ms; ReAlnet-fMRI VC -> PCA 1024; RSA on raw ROIs
    for config in (eeg, load_study_config(CONFIGS / "finetune_trajectory.yaml")):
        target = config.alignment.train.data.target
        assert target.channels == list(THINGS_EEG2_CHANNELS) and target.window == (0.0, 0.2) and target.roi is None
    assert (fmri.alignment.train.data.target.roi, fmri.alignment.train.data.target.pca_components) == ("VC", 1024)
    assert fmri.evaluation.rois == ["V1", "V2", "V3", "V4", "LOC"] == eeg.cross_evaluation[0].rois


@pytest.mark.parametrize("name", REAL_STUDIES)
def test_missing_dataset_says_where_and_how(name: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # relative data paths do not exist here
    config = load_study_config(CONFIGS / name)
    with pytest.raises(MissingDatasetError) as caught:
        check_datasets(config)
    message = str(caught.value)
    required = [*config.datasets, *(item for cross in config.cross_evaluation for item in cross.requirements())]
    for dataset in required:  # cross-evaluation files are checked like the datasets
        assert dataset.path in message and dataset.fetch.split()[0] in message
    assert message.count("download with:") == len(required)
    assert run(["study", str(CONFIGS / name), "--out", str(tmp_path / "run")]) == 2
    assert not (tmp_path / "run").exists()  # nothing is started before the data check


def test_bad_keys_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key 'evaluation.colour'"):
        parse_study_config({"name": "x", "evaluation": {"colour": "red"}})
    with pytest.raises(ConfigError, match="timecourse_rdm"):
        parse_study_config({"name": "x", "evaluation": {"timecourse_rdm": "magic"}})
    with pytest.raises(ConfigError, match="cross_evaluation.0.*subjects is empty"):
        parse_study_config({"name": "x", "cross_evaluation": [
            {"name": "a", "modality": "fmri", "responses": "data/{subject}/test.npz", "stimuli": "images"}]})
    with pytest.raises(ConfigError, match="does not exist"):
        load_study_config(tmp_path / "absent.yaml")


def test_simulated_cross_entries_read_no_files_and_need_simulated_data() -> None:
    entry = {"name": "sim-fmri", "modality": "fmri", "simulated": {"n_voxels": 20}}
    config = parse_study_config({"name": "x", "cross_evaluation": [entry]})
    cross = config.cross_evaluation[0]
    assert cross.same_subjects and cross.requirements() == [] and cross.response_paths() == []
    with pytest.raises(ConfigError, match="drop \\['responses'\\]"):
        parse_study_config({"name": "x", "cross_evaluation": [{**entry, "responses": "a.npz"}]})
    with pytest.raises(ConfigError, match="modality and seed"):
        parse_study_config({"name": "x", "cross_evaluation": [{**entry, "simulated": {"seed": 3}}]})
    with pytest.raises(ConfigError, match="give responses and stimuli"):
        parse_study_config({"name": "x", "cross_evaluation": [{"name": "a", "modality": "eeg"}]})
    files = {"source": "files", "train_responses": "r.npz", "train_stimuli": "s.csv"}
    with pytest.raises(ConfigError, match="simulated entries need"):
        parse_study_config({"name": "x", "cross_evaluation": [entry],
                            "alignment": {"train": {"data": files}}})
