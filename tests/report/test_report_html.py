"""The HTML report: built from result files alone, self-contained, every figure present and valid."""
from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from brainalign.cli import run
from brainalign.errors import DataFormatError
from brainalign.report import build_report, read_table, table_path
from brainalign.report.html import FIGURES

from report_synthetic import MODELS, write_synthetic_results


def _valid_png(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


def test_every_figure_is_embedded_and_its_files_are_valid(reported_run: Path) -> None:
    page = (reported_run / "report.html").read_text(encoding="utf-8")
    embedded = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert len(embedded) == len(FIGURES)  # every result file present -> every figure drawn
    for data in embedded:
        width, height = _valid_png(base64.b64decode(data))
        assert width > 200 and height > 100
    references = re.findall(r'(?:href|data-file)="(figures/[^"]+)"', page)
    assert {Path(reference).suffix for reference in references} == {".png", ".svg"}
    for reference in references:
        path = reported_run / reference
        assert path.is_file(), reference
        if path.suffix == ".png":
            _valid_png(path.read_bytes())
        else:
            assert ElementTree.parse(path).getroot().tag.endswith("svg")
    assert "src=\"http" not in page and "<script" not in page  # opens offline from disk


def test_report_holds_tables_config_versions_seed_and_timings(reported_run: Path) -> None:
    page = (reported_run / "report.html").read_text(encoding="utf-8")
    for model in MODELS:
        assert f"<td>{model}</td>" in page
    assert "name: synthetic" in page  # the config
    assert "<td>torch</td>" in page and "<td>seed</td><td>0</td>" in page
    assert "<td>alignment</td><td>42.0</td>" in page
    assert "<td>+0.0800</td><td>[+0.0100, +0.1500]</td><td>+2.00</td><td>3/3</td><td>0.0123</td><td>0.049</td>" in page
    assert "<td>+25.0 %</td><td>[+10.0, +40.0] %</td>" in page  # the headline ratio in percent, with its CI
    assert "Caveat.</strong> Synthetic numbers" in page
    similarity = read_table(table_path(reported_run, "similarity"), "similarity")
    aligned_v1 = similarity.query("model == 'aligned' and target == 'V1' and readout == 'roi best layer'")
    aligned_v1 = aligned_v1["similarity"].mean()
    assert f"{aligned_v1:.4f} &plusmn;" in page  # table values come from the result file


def test_report_command_rebuilds_from_result_files_only(tmp_path: Path) -> None:
    run_dir = write_synthetic_results(tmp_path / "run", seed=1)
    for kind in ("robustness", "dimensions", "variability", "trajectory", "improvement", "rsa_timecourses",
                 "cross_similarity", "cross_timecourses", "rsa_significance", "noise_ceiling",
                 "improvement_correlation", "comparisons", "ground_truth"):
        table_path(run_dir, kind).unlink()
    (run_dir / "results" / "predictions.npz").unlink()
    assert run(["report", str(run_dir)]) == 0
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert page.count("<img ") == 2 and 'id="fig-similarity"' in page and 'id="fig-similarity_roi"' in page
    assert sorted(path.name for path in (run_dir / "figures").iterdir()) == [
        "similarity.png", "similarity.svg", "similarity_roi.png", "similarity_roi.svg"]


def test_bad_inputs_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="does not exist"):
        build_report(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="holds no result files"):
        build_report(tmp_path / "empty")
    broken = tmp_path / "broken" / "results" / "similarity.csv"
    broken.parent.mkdir(parents=True)
    pd.DataFrame({"model": ["base"], "value": [0.1]}).to_csv(broken, index=False)
    with pytest.raises(DataFormatError, match=r"lacks column\(s\) target, subject, similarity"):
        build_report(tmp_path / "broken")
    assert run(["report", str(tmp_path / "broken")]) == 2


def test_captions_name_what_is_compared_units_and_n(reported_run: Path) -> None:
    """The fixes of issue 12: percent in caption and tables alike, subjects (not seeds) as n, the seed baseline
    of variability, one colour scale for predictions, one y-axis for time courses, a robustness section."""
    import html

    page = html.unescape((reported_run / "report.html").read_text(encoding="utf-8"))
    captions = dict(re.findall(r'<figure id="fig-([^"]+)">.*?<figcaption>(.*?)</figcaption>', page, re.S))
    assert "in percent" in captions["improvement"] and "improvement ratio over base (%)" in page
    assert "over 3 subjects (each subject's 2 seed(s) averaged first)" in captions["trajectory"]
    assert "the baseline, pairs of seeds of the same subject" in captions["variability"]
    assert "diagonal blank" in captions["variability"] and "one colour scale" in captions["predictions"]
    assert "one y-axis for all layers" in captions["rsa_timecourses"]
    assert '<section id="robustness">' in page and "chance as a dashed line" in captions["robustness"]
    assert all(re.search(r"n = \d+", captions[name]) for name in ("similarity", "rsa_timecourses", "improvement"))
