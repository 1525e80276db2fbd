"""End-to-end studies: study configs, the demo on the simulated observer, and the study pipeline
(data -> base model -> alignment -> measurement -> statistics -> result files -> report)."""
from __future__ import annotations

from brainalign._lazy import lazy_getattr

_NAMES = {
    # config.py
    "StudyConfig": ".config",
    "load_study_config": ".config",
    "check_datasets": ".config",
    # analyses/: the registry (analyses/__init__.py) and its entry type (analyses/base.py)
    "ANALYSES": ".analyses",
    "Analysis": ".analyses.base",
    # pipeline.py
    "run_study": ".pipeline",
    # demo.py
    "run_demo": ".demo",
    "demo_config": ".demo",
    "DEMO_CONFIG": ".demo",
}
__all__ = sorted(_NAMES)
__getattr__ = lazy_getattr(__name__, _NAMES)
