"""Error consistency (Geirhos, Meding & Wichmann 2020): do two observers err on the same trials?

Cohen's kappa between trial-wise correctness: ``kappa = (c_obs - c_exp) / (1 - c_exp)`` where
``c_obs`` is the fraction of trials on which both observers are right or both wrong and
``c_exp = p_a p_b + (1 - p_a)(1 - p_b)`` is that fraction expected from their accuracies alone.
As in the reference implementation (bethgelab/model-vs-human), ``kappa = 1`` when ``c_obs = 1``.

Human trials load from the published model-vs-human CSV layout
(``subj,session,trial,rt,object_response,category,condition,imagename``; one file per session or a
folder of them) or a plain layout (``subject,image,response,correct`` or ``...,category``).
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Sequence

import numpy as np
import pandas as pd

from brainalign.errors import DataFormatError, ValidationError

# model-vs-human column -> brainalign column
_GEIRHOS_COLUMNS = {"subj": "subject", "object_response": "response", "imagename": "imagename"}
_TRUE_STRINGS = {"true", "1", "yes", "correct"}
_FALSE_STRINGS = {"false", "0", "no", "incorrect", "wrong"}


def _as_correctness(values: object, name: str) -> np.ndarray:
    """Validate trial-wise correctness (bool or 0/1), ``(n_trials,)`` or ``(n_observers, n_trials)``; return float."""
    array = np.asarray(values)
    if array.size == 0:
        raise ValidationError(f"{name} is empty; give one correct/incorrect value per trial")
    if array.dtype.kind not in "biuf" or not np.isin(array, (0, 1)).all():
        raise ValidationError(
            f"{name} must hold trial-wise correctness as booleans or 0/1, got values like {np.unique(array)[:5].tolist()}"
        )
    return array.astype(np.float64)


def consistency(correct_a: np.ndarray, correct_b: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed consistency, expected consistency and kappa between every row of ``correct_a``
    ``(m, n_trials)`` and of ``correct_b`` ``(k, n_trials)`` (default: ``correct_a``); each ``(m, k)``.
    Rows are observers, columns the same trials in the same order."""
    a = _as_correctness(correct_a, "correct_a")
    b = a if correct_b is None else _as_correctness(correct_b, "correct_b")
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValidationError(
            f"correct_a {a.shape} and correct_b {b.shape} must cover the same trials (same last dimension); "
            "align the two observers' trials by image first (see error_consistency_table)"
        )
    n_trials = a.shape[1]
    observed = (a @ b.T + (1 - a) @ (1 - b).T) / n_trials
    p_a, p_b = a.mean(axis=1)[:, None], b.mean(axis=1)[None, :]
    expected = p_a * p_b + (1 - p_a) * (1 - p_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (observed - expected) / (1 - expected)
    # c_obs = 1 (which includes the 0/0 case c_exp = 1) counts as perfect consistency
    return observed, expected, np.where(np.isclose(observed, 1.0), 1.0, kappa)


def error_consistency_matrix(correct_a: np.ndarray, correct_b: np.ndarray | None = None) -> np.ndarray:
    """Kappa between every observer (row) of ``correct_a`` ``(m, n_trials)`` and of ``correct_b``
    ``(k, n_trials)`` (default: ``correct_a``); returns ``(m, k)``."""
    return consistency(correct_a, correct_b)[2]


def error_consistency(correct_a: Sequence[bool] | np.ndarray, correct_b: Sequence[bool] | np.ndarray) -> float:
    """Cohen's kappa between two observers' trial-wise correctness ``(n_trials,)`` each (bool or 0/1),
    trials in the same order. 0: errors no more aligned than chance; 1: identical errors."""
    a, b = np.asarray(correct_a), np.asarray(correct_b)
    if a.ndim != 1 or b.ndim != 1:
        raise ValidationError(f"correct_a {a.shape} and correct_b {b.shape} must be 1-D, one value per trial")
    return float(error_consistency_matrix(a[None], b[None])[0, 0])


def _parse_correct(column: pd.Series, path: Path) -> pd.Series:
    if column.dtype == bool:
        return column
    text = column.astype(str).str.strip().str.lower()
    known = text.isin(_TRUE_STRINGS | _FALSE_STRINGS)
    if not known.all():
        raise DataFormatError(
            f"{path}: column 'correct' has value {column[~known].iloc[0]!r}; use true/false or 1/0"
        )
    return text.isin(_TRUE_STRINGS)


def short_image_name(imagename: str) -> str:
    """The image-specific part of a model-vs-human ``imagename`` (drops the per-trial prefix), e.g.
    ``0000_cl_s01_bw_boat_40_n02951358_5952.JPEG -> n02951358_5952.JPEG`` (same rule as the reference code)."""
    parts = str(imagename).split("_")
    if len(parts) == 1:
        return parts[0]
    return "_".join(parts[-2:]) if parts[-2].startswith("n0") else parts[-1]


def load_trials(path: str | Path) -> pd.DataFrame:
    """Read behavioural trials from a CSV file or a folder of CSV files (concatenated in name order).

    Returns one row per trial with ``subject``, ``image``, ``correct`` (bool) and, when present,
    ``response``, ``category``, ``condition``, ``session``, ``trial``, ``rt``. In the model-vs-human
    layout, ``image`` is the short image name and ``correct = object_response == category``.
    """
    source = Path(path)
    files = sorted(source.glob("*.csv")) if source.is_dir() else [source]
    if not source.exists() or not files:
        raise DataFormatError(f"{source}: no trial CSV found; give a CSV file or a folder holding *.csv files")
    frames = []
    for file in files:
        try:
            frame = pd.read_csv(file)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise DataFormatError(f"{file}: not a readable CSV ({error})") from None
        frame.columns = [str(column).strip().lower() for column in frame.columns]
        frames.append(_standardise_trials(frame.rename(columns=_GEIRHOS_COLUMNS), file))
    return pd.concat(frames, ignore_index=True)


def _standardise_trials(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    if "image" not in frame.columns and "imagename" in frame.columns:
        frame["image"] = frame["imagename"].map(short_image_name)
    if "category" not in frame.columns and "label" in frame.columns:
        frame = frame.rename(columns={"label": "category"})
    missing = [column for column in ("subject", "image") if column not in frame.columns]
    if missing:
        raise DataFormatError(
            f"{path}: missing column(s) {missing}; expected subject,image,response,correct or the "
            "model-vs-human layout subj,session,trial,rt,object_response,category,condition,imagename"
        )
    if "correct" in frame.columns:
        frame["correct"] = _parse_correct(frame["correct"], path)
    elif {"response", "category"} <= set(frame.columns):
        frame["correct"] = frame["response"].astype(str) == frame["category"].astype(str)
    else:
        raise DataFormatError(f"{path}: needs a 'correct' column, or 'response' and 'category' (true class) columns")
    frame["subject"] = frame["subject"].astype(str)
    frame["image"] = frame["image"].astype(str)
    return frame


def error_consistency_table(
    trials_a: pd.DataFrame,
    trials_b: pd.DataFrame,
    by: Sequence[str] = (),
    name_a: str = "a",
    name_b: str = "b",
    match: str = "stem",
) -> pd.DataFrame:
    """Error consistency between every observer of ``trials_a`` and every observer of ``trials_b``,
    trials matched by ``image`` (and the ``by`` columns, e.g. ``("condition",)``).

    ``match="stem"`` compares image names without folders and file suffix (``"dog/img1.png"`` matches
    ``"img1"``, the id :class:`~brainalign.data.Stimuli` gives it); ``match="exact"`` compares them as given.

    Trials are DataFrames with ``image`` and ``correct`` (e.g. ``accuracy(...).trials`` for a model,
    :func:`load_trials` for humans); an optional ``subject`` column separates observers (absent: one
    observer called ``name_a`` / ``name_b``). Returns one row per observer pair (and ``by`` group) with
    ``subject_a``, ``subject_b``, ``n_trials``, ``accuracy_a``, ``accuracy_b``, ``observed``
    (c_obs), ``expected`` (c_exp) and ``kappa``. Observer pairs sharing no image are left out.
    """
    if match not in ("stem", "exact"):
        raise ValidationError(f"match={match!r}; choose 'stem' or 'exact'")
    keys = ["image", *by]
    a = _observer_trials(trials_a, keys, name_a, "trials_a", match)
    b = _observer_trials(trials_b, keys, name_b, "trials_b", match)
    matched = a.merge(b, on=[*by, "image"], suffixes=("_a", "_b"))
    if matched.empty:
        raise ValidationError(
            f"trials_a and trials_b share no image (matched on {keys}); e.g. trials_a has "
            f"{a['image'].head(3).tolist()} and trials_b has {b['image'].head(3).tolist()}; "
            "make both use the same image names"
        )
    rows = []
    for group_key, group in matched.groupby(["subject_a", "subject_b", *by], sort=True):
        correct_a, correct_b = group["correct_a"].to_numpy(float), group["correct_b"].to_numpy(float)
        observed, expected, kappa = (float(value[0, 0]) for value in consistency(correct_a[None], correct_b[None]))
        rows.append(
            dict(
                zip(["subject_a", "subject_b", *by], group_key),
                n_trials=len(group),
                accuracy_a=correct_a.mean(),
                accuracy_b=correct_b.mean(),
                observed=observed,
                expected=expected,
                kappa=kappa,
            )
        )
    return pd.DataFrame(rows)


def _observer_trials(trials: pd.DataFrame, keys: list[str], default_name: str, name: str, match: str) -> pd.DataFrame:
    missing = [column for column in [*keys, "correct"] if column not in trials.columns]
    if missing:
        raise ValidationError(f"{name} lacks column(s) {missing}; it needs image, correct and {keys[1:] or 'no other'} columns")
    frame = trials.copy()
    if "subject" not in frame.columns:
        frame["subject"] = default_name
    frame["subject"] = frame["subject"].astype(str)
    frame["image"] = frame["image"].astype(str)
    if match == "stem":
        frame["image"] = [PurePosixPath(image.replace("\\", "/")).stem for image in frame["image"]]
    duplicated = frame.duplicated(["subject", *keys])
    if duplicated.any():
        row = frame[duplicated].iloc[0]
        raise ValidationError(
            f"{name}: image {row['image']!r} appears more than once for subject {row['subject']!r}; error "
            "consistency needs one trial per image per observer (split repeats with by=, e.g. ('session',); "
            "use match='exact' when different folders hold files of the same name)"
        )
    return frame[["subject", *keys, "correct"]]
