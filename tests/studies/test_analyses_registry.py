"""The registry of analyses: every entry writes a declared table, reads only earlier ones, and a new analysis
is one entry that the pipeline runs, checks against its schema and writes."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from brainalign.errors import DataFormatError
from brainalign.report.results import TABLES, read_table, table_path
from brainalign.studies.analyses import ANALYSES, Analysis
from brainalign.studies.pipeline import run_analyses


def test_every_analysis_writes_a_declared_table_after_the_ones_it_reads() -> None:
    names = [analysis.name for analysis in ANALYSES]
    assert len(names) == len(set(names))
    for position, analysis in enumerate(ANALYSES):
        assert analysis.name in TABLES or analysis.write is not None, analysis.name
        assert set(analysis.needs) <= set(names[:position]), analysis.name


def test_a_new_analysis_is_one_entry(tmp_path: Path) -> None:
    def per_layer(context) -> pd.DataFrame:
        return pd.DataFrame({"model": ["base", "aligned"], "target": "IT", "subject": "sub-01",
                             "similarity": [0.2, 0.3]})

    def skipped(context) -> None:
        return None

    entry = Analysis("similarity", "a stand-in", lambda config: True, per_layer)
    context = SimpleNamespace(config=None, frames={})
    frames = run_analyses(context, tmp_path, [entry, Analysis("rsa_timecourses", "off", lambda config: False, per_layer),
                                             Analysis("variability", "nothing", lambda config: True, skipped)])
    assert list(frames) == ["similarity"] and frames["similarity"]["subject"].tolist() == ["sub-01"] * 2
    assert read_table(table_path(tmp_path, "similarity"), "similarity")["similarity"].tolist() == [0.2, 0.3]
    assert not table_path(tmp_path, "variability").exists()
    wrong = Analysis("similarity", "bad", lambda config: True, lambda context: pd.DataFrame({"model": ["x"]}))
    with pytest.raises(DataFormatError, match="lacks column"):
        run_analyses(SimpleNamespace(config=None, frames={}), tmp_path, [wrong])
