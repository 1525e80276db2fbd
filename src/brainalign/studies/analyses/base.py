"""One analysis of a study, as an entry of the registry :data:`brainalign.studies.analyses.ANALYSES`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pandas as pd

from brainalign.report.results import table_path, write_table
from brainalign.studies.config import StudyConfig
from brainalign.studies.context import StudyContext


@dataclass(frozen=True)
class Analysis:
    """An analysis: when it runs, what it computes, and the result table it writes.

    ``name`` is the result table it writes (a schema of :data:`brainalign.report.results.TABLES`; the
    report draws that table's figure); ``enabled(config)`` is its config switch; ``run(context)`` returns
    the table as a DataFrame of that schema, or None when the study has nothing for it (e.g. no EEG);
    ``needs`` names analyses whose tables ``run`` reads from ``context.frames``; ``write`` saves the
    result (default: the CSV ``results/<file of name>``).
    """

    name: str
    description: str
    enabled: Callable[[StudyConfig], bool]
    run: Callable[[StudyContext], Optional[pd.DataFrame]]
    needs: tuple[str, ...] = ()
    write: Optional[Callable[[Path, pd.DataFrame], Path]] = None

    def save(self, run_dir: Path, result: pd.DataFrame) -> Path:
        """Write ``result`` into ``run_dir`` (``write``, or the schema-checked CSV of ``name``)."""
        if self.write is not None:
            return self.write(run_dir, result)
        return write_table(result, table_path(run_dir, self.name), self.name)


def always(config: StudyConfig) -> bool:
    """The switch of analyses that always run."""
    return True
