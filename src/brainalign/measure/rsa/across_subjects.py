"""Model-vs-brain similarity across subjects: per model RDM and neural target, the mean, SEM, a two-sided
test against 0 with subjects as the unit, and the noise ceiling of the target.

Neural RDMs are split into *targets* (time points or ROIs: the descriptor columns :data:`TARGET_COLUMNS`)
and *units*: the values of the ``subject`` descriptor, or every neural RDM of a target when there is no
such column (then not necessarily independent units; name a subject column to pool them; the 8 RDMs of
``92_brainRDMs.mat`` get one from their names: 4 subjects x 2 sessions). A subject with several RDMs of one target has its
similarities averaged (and its RDMs averaged for the ceiling), so subjects stay the unit of inference
(Nili et al. 2014; ReAlnet, Lu et al., Methods "Statistical analyses": t-tests across subjects).

The test is a one-sample t-test of the per-subject similarities against 0
(:func:`brainalign.measure.statistics.paired_difference`, two-sided), with a t confidence interval and
Cohen's d_z; p-values are corrected over every test of the table (Holm by default,
:func:`~brainalign.measure.statistics.correct_p`). The noise ceiling is
:func:`~brainalign.measure.rsa.comparison.noise_ceiling` of the target's subject RDMs.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from brainalign.data.rdms import RDMs
from brainalign.errors import ValidationError
from brainalign.measure.rsa.comparison import compare, noise_ceiling
from brainalign.measure.statistics import CORRECTIONS, correct_p, paired_difference

TARGET_COLUMNS = ("roi", "time", "time_index")
STATISTICS = ("n", "mean", "sem", "ci_low", "ci_high", "cohens_dz", "t", "p_value", "p_corrected",
              "ceiling_lower", "ceiling_upper", "unit", "test")  # the columns after the descriptors


def subject_statistics(model_rdms: RDMs, neural_rdms: RDMs, method: str = "spearman",
                       subject_column: str = "subject", confidence: float = 0.95,
                       correction: str = "holm") -> pd.DataFrame:
    """One row per (model RDM, neural target) with the model RDM's descriptors, the target's descriptors
    (:data:`TARGET_COLUMNS`; a column present on both sides gets ``_neural``), then ``n`` (units),
    ``mean``, ``sem`` (ddof=1) of the similarity across units, ``ci_low``/``ci_high`` (t interval at
    ``confidence``), ``cohens_dz``, ``t``, ``p_value`` (two-sided one-sample t-test against 0),
    ``p_corrected`` (``correction`` over all rows), ``ceiling_lower``/``ceiling_upper`` (noise ceiling),
    and ``unit`` (what a unit is) and ``test`` (how p was computed). With one unit the spread, test and
    ceiling are NaN. Both RDMs must be on the same stimuli in the same order.
    """
    if correction not in CORRECTIONS:
        raise ValidationError(f"correction: {correction!r} is not one of {CORRECTIONS}")
    similarity = compare(model_rdms, neural_rdms, method)  # (n_model, n_neural)
    descriptors = neural_rdms.descriptors.reset_index(drop=True)
    targets = [column for column in TARGET_COLUMNS if column in descriptors.columns]
    if "time" in targets and "time_index" in targets:
        targets.remove("time_index")
    if subject_column in descriptors.columns:
        units = descriptors[subject_column].astype(str).to_numpy()
        unit = f"subjects (neural RDM descriptor {subject_column!r})"
    else:
        units = np.array([f"rdm{index}" for index in range(len(descriptors))])
        unit = f"neural RDMs (no {subject_column!r} descriptor: each RDM of a target is one unit)"
    keys = descriptors[targets] if targets else pd.DataFrame(index=descriptors.index)
    groups = keys.groupby(targets, sort=False).indices if targets else {(): np.arange(len(descriptors))}
    vectors = np.asarray(neural_rdms.dissimilarities, dtype=np.float64)
    models = model_rdms.descriptors.reset_index(drop=True)
    models = models if models.shape[1] else pd.DataFrame({"model_rdm": np.arange(model_rdms.n_rdms)})
    rows = []
    for key, indices in groups.items():
        names, order = np.unique(units[indices], return_inverse=True)
        counts = np.bincount(order, minlength=len(names)).astype(float)
        per_unit = np.zeros((len(models), len(names)))
        np.add.at(per_unit.T, order, similarity[:, indices].T)  # sum per unit, then the mean
        per_unit /= counts
        pooled = np.zeros((len(names), vectors.shape[1]))
        np.add.at(pooled, order, vectors[indices])
        ceiling = (noise_ceiling(pooled / counts[:, None], method) if len(names) > 1 else (np.nan, np.nan))
        target = dict(zip(targets, key if isinstance(key, tuple) else (key,)))
        for index in range(len(models)):
            rows.append({**models.iloc[index].to_dict(), **{f"{name}_target": value for name, value in target.items()},
                         **_test(per_unit[index], confidence), "ceiling_lower": ceiling[0],
                         "ceiling_upper": ceiling[1]})
    table = pd.DataFrame(rows)
    table = table.rename(columns={f"{name}_target": (f"{name}_neural" if name in models.columns else name)
                                  for name in targets})
    table["p_corrected"] = correct_p(table["p_value"].to_numpy(), correction)
    table["unit"] = unit
    table["test"] = (f"two-sided one-sample t-test of the {method} similarity against 0 across units; "
                     f"p_corrected: {correction} over all {int(np.isfinite(table['p_value']).sum())} tests")
    return table


def _test(values: np.ndarray, confidence: float) -> dict[str, float]:
    """n, mean, sem, t interval, d_z, t and the two-sided p of ``values`` (NaN spread for one value)."""
    if len(values) < 2:
        return {"n": len(values), "mean": float(values.mean()), **{name: np.nan for name in
                                                                     ("sem", "ci_low", "ci_high", "cohens_dz", "t",
                                                                      "p_value")}}
    result = paired_difference(values, None, "two-sided", confidence)
    return {"n": result.n, "mean": result.mean, "sem": result.sem, "ci_low": result.ci_low,
            "ci_high": result.ci_high, "cohens_dz": result.cohens_dz, "t": result.t, "p_value": result.p_value}
