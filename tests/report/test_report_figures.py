"""Figure functions: each writes a valid PNG and SVG from its result file; bad files fail clearly."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.collections import PolyCollection
import pytest
from PIL import Image

from brainalign.errors import DataFormatError
from brainalign.report import figures, read_predictions, read_table, table_path, write_predictions, write_table
from brainalign.report.figures import model_colours


def _check_outputs(paths: list[Path]) -> None:
    assert [path.suffix for path in paths] == [".png", ".svg"]
    with Image.open(paths[0]) as image:
        image.verify()
    assert ElementTree.parse(paths[1]).getroot().tag.endswith("svg")


def test_timecourse_and_difference_figures(tmp_path: Path) -> None:
    rows = pd.DataFrame([(model, "IT", subject, time, 0.1 * (model == "aligned") + 0.01 * subject)
                         for model in ("base", "aligned") for subject in range(3) for time in (0.0, 0.1, 0.2)],
                        columns=["model", "layer", "subject", "time", "similarity"])
    ceiling = pd.DataFrame({"readout": "eeg time course", "target": ["0", "0.1", "0.2"], "time": [0.0, 0.1, 0.2],
                            "lower": 0.2, "upper": 0.3, "n": 3})
    marks = pd.DataFrame({"model": "aligned", "reference": "base", "layer": "IT", "time": [0.0, 0.1, 0.2],
                          "significant": [0, 1, 1], "difference": 0.1, "sem": 0.01})
    write_table(rows, tmp_path / "tc.csv", "rsa_timecourses")
    write_table(ceiling, tmp_path / "ceiling.csv", "noise_ceiling")
    write_table(marks, tmp_path / "sig.csv", "rsa_significance")
    paths = figures.plot_rsa_timecourses(tmp_path / "tc.csv", tmp_path / "tc", tmp_path / "ceiling.csv")
    _check_outputs(paths)
    assert "noise ceiling" in paths[1].read_text()
    paths = figures.plot_rsa_differences(tmp_path / "sig.csv", tmp_path / "diff")
    _check_outputs(paths)
    assert "aligned - base" in paths[1].read_text()


def test_difference_curves_tell_every_reference_apart(tmp_path: Path, monkeypatch) -> None:
    """aligned minus base and minus each of three controls: four curves of the aligned colour, each with its
    own line style and significance marker in the legend (the demo's figure drew the three controls alike)."""
    references = ["base", "control_beta0", "control_no_contrastive", "control_unpaired"]
    pairs = [("aligned", reference) for reference in references] + [("control_beta0", "base")]
    marks = pd.DataFrame([(model, reference, "IT", time, 1, 0.01, 0.001) for model, reference in pairs
                          for time in (0.0, 0.1)],
                         columns=["model", "reference", "layer", "time", "significant", "difference", "sem"])
    write_table(marks, tmp_path / "sig.csv", "rsa_significance")
    drawn = []
    monkeypatch.setattr(figures, "_save", lambda fig, stem: drawn.append(fig) or [])
    figures.plot_rsa_differences(tmp_path / "sig.csv", tmp_path / "diff")
    legend = drawn[0].legends[0]
    labels = [text.get_text() for text in legend.get_texts()]
    assert labels == [f"{model} - {reference}" for model, reference in pairs]
    looks = [(handle.get_color(), str(handle.get_linestyle()), handle.get_marker(), handle.get_markerfacecolor())
             for handle in legend.legend_handles]
    assert len(set(looks)) == len(pairs)
    aligned = looks[:4]
    assert len({look[2] for look in aligned}) == 4 and [look[1] for look in aligned] == ["-", "--", "--", "--"]
    assert looks[4][1:3] == aligned[0][1:3]  # every difference from base: solid line, filled dots
    axes = drawn[0].axes[0]
    assert {line.get_marker() for line in axes.lines if line.get_linestyle() == "None"} == {"o", "s", "^", "D"}


def test_one_whole_response_ceiling_is_drawn_behind_every_layer(tmp_path: Path, monkeypatch) -> None:
    """Every layer is compared with the same whole-response RDM, whose one ceiling row is named 'whole
    response', not by layer: the demo's figure drew no band although its caption promised one."""
    table = pd.DataFrame([("base", layer, f"s{i}", 0.4 + 0.01 * i, "whole response") for layer in ("V1", "IT")
                          for i in range(3)], columns=["model", "target", "subject", "similarity", "readout"])
    ceiling = pd.DataFrame({"readout": ["whole response"], "target": ["whole response"], "lower": [0.8],
                            "upper": [0.85], "n": [3], "time": [np.nan]})
    write_table(table, tmp_path / "similarity.csv", "similarity")
    write_table(ceiling, tmp_path / "ceiling.csv", "noise_ceiling")
    drawn = []
    monkeypatch.setattr(figures, "_save", lambda fig, stem: drawn.append(fig) or [])
    figures.plot_similarity_bars(tmp_path / "similarity.csv", tmp_path / "sim", readout="whole response",
                                 ceiling_csv=tmp_path / "ceiling.csv")
    grey = mcolors.to_rgb(figures.CEILING_COLOUR)
    bands = [band for band in drawn[0].axes[0].collections if isinstance(band, PolyCollection)
             and np.allclose(band.get_facecolor()[0][:3], grey)]
    assert len(bands) == 2  # one band behind each layer's bars
    assert all(np.allclose(band.get_paths()[0].vertices[:, 1].min(), 0.8) for band in bands)
    assert "noise ceiling" in [text.get_text() for text in drawn[0].legends[0].get_texts()]


def test_robustness_and_predictions_figures(tmp_path: Path) -> None:
    table = pd.DataFrame({"model": ["base", "base", "aligned", "aligned"], "eps": [0.0, 0.01] * 2,
                          "top1": [0.9, 0.5, 0.8, 0.45], "top1_aligned": [0.0, -0.4, 0.0, -0.35]})
    write_table(table, table_path(tmp_path, "robustness"), "robustness")
    _check_outputs(figures.plot_robustness(table_path(tmp_path, "robustness"), tmp_path / "rob"))
    real = np.random.default_rng(0).normal(size=(2, 30))  # 1-d responses (e.g. voxels) draw as lines
    write_predictions(tmp_path / "pred.npz", real, real * 0.5, ["a", "b"])
    assert read_predictions(tmp_path / "pred.npz")["stimulus_ids"].tolist() == ["a", "b"]
    _check_outputs(figures.plot_predictions(tmp_path / "pred.npz", tmp_path / "pred"))


def test_tables_round_trip_and_reject_missing_columns(tmp_path: Path) -> None:
    table = pd.DataFrame({"model": ["base"], "target": ["01"], "subject": ["007"], "similarity": [0.25]})
    path = write_table(table, tmp_path / "similarity.csv", "similarity")
    back = read_table(path, "similarity")
    assert back.loc[0, "subject"] == "007" and back.loc[0, "target"] == "01"  # ids stay strings
    with pytest.raises(DataFormatError, match="lacks column"):
        write_table(table.drop(columns="subject"), tmp_path / "bad.csv", "similarity")
    with pytest.raises(DataFormatError, match="does not exist"):
        read_table(tmp_path / "absent.csv", "similarity")
    with pytest.raises(DataFormatError, match="unknown result table"):
        read_table(path, "no_such_table")
    with pytest.raises(DataFormatError, match="must agree"):
        write_predictions(tmp_path / "p.npz", np.zeros((2, 3)), np.zeros((2, 4)), ["a", "b"])


def test_model_colours_are_stable_and_distinct() -> None:
    colours = model_colours(["aligned", "x", "base", "control_beta0", "aligned_beta10", "aligned_beta100"])
    assert colours["base"] == model_colours(["base"])["base"] and colours["x"] == model_colours(["y", "x"])["x"]
    assert len(set(colours.values())) == 6  # one colour per model, the same in every figure



def test_scratch_trajectory_figure_has_a_panel_per_target_and_an_accuracy_axis(tmp_path: Path) -> None:
    rows = [(seed, epoch, layer, target, 0.1 * np.log1p(epoch) + 0.01 * seed, min(0.9, 0.25 + 0.1 * epoch))
            for seed in (0, 1) for epoch in (0.0, 0.25, 1.0, 4.0, 16.0) for layer in ("V1", "IT")
            for target in ("EEG 80 ms", "fMRI V1v", "fMRI PPA")]
    table = pd.DataFrame(rows, columns=["seed", "epoch", "layer", "target", "similarity", "accuracy"])
    write_table(table, table_path(tmp_path, "scratch_trajectory"), "scratch_trajectory")
    paths = figures.plot_scratch_trajectory(table_path(tmp_path, "scratch_trajectory"), tmp_path / "scratch")
    _check_outputs(paths)
    svg = paths[1].read_text()
    assert all(target in svg for target in ("EEG 80 ms", "fMRI V1v", "fMRI PPA"))
    assert "held-out accuracy" in svg and "over 2 initialisation seed(s)" in svg


def test_importing_the_report_keeps_the_matplotlib_backend() -> None:
    """Nothing switches matplotlib's backend at import (it would break notebooks)."""
    import subprocess
    import sys

    code = ("import matplotlib; matplotlib.use('pdf'); import brainalign.report.figures, brainalign.report.quicklook, "
            "brainalign.report.html; assert matplotlib.get_backend() == 'pdf', matplotlib.get_backend()")
    subprocess.run([sys.executable, "-c", code], check=True)
