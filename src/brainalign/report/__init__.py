"""Figures and self-contained HTML reports, drawn from result files alone."""
from __future__ import annotations

from brainalign._lazy import lazy_getattr

_NAMES = {
    # results.py
    "read_table": ".results",
    "write_table": ".results",
    "table_path": ".results",
    "read_predictions": ".results",
    "write_predictions": ".results",
    # figures.py
    "plot_rsa_timecourses": ".figures",
    "plot_similarity_bars": ".figures",
    "plot_cross_similarity": ".figures",
    "plot_improvement": ".figures",
    "plot_improvement_correlation": ".figures",
    "plot_rsa_differences": ".figures",
    "plot_variability": ".figures",
    "plot_robustness": ".figures",
    "plot_dimensions": ".figures",
    "plot_trajectory": ".figures",
    "plot_scratch_trajectory": ".figures",
    "plot_predictions": ".figures",
    "plot_ground_truth": ".figures",
    "plot_comparisons": ".figures",
    # quicklook.py (figures of in-memory results for the command line)
    "plot_rdms": ".quicklook",
    "plot_similarity": ".quicklook",
    "similarity_figure": ".quicklook",
    # html.py
    "build_report": ".html",
    "draw_figures": ".html",
}
__all__ = sorted(_NAMES)
__getattr__ = lazy_getattr(__name__, _NAMES)
