"""RDMs to and from rsatoolbox (``rsatoolbox.rdm.RDMs``), exactly both ways.

brainalign's :class:`~brainalign.data.RDMs` and rsatoolbox's share the layout (condensed upper triangles
in scipy ``squareform`` order): descriptors become ``rdm_descriptors``, the stimulus ids and descriptors
``pattern_descriptors`` (ids as ``stimulus_id``), the measure ``dissimilarity_measure`` and the
provenance (:class:`~brainalign.provenance.Provenance`) the set-wide ``descriptors``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from brainalign.data.rdms import RDMs
from brainalign.provenance import Provenance

if TYPE_CHECKING:
    import rsatoolbox

PROVENANCE_KEY = "brainalign_provenance"


def to_rsatoolbox(rdms: RDMs) -> "rsatoolbox.rdm.RDMs":
    """``rdms`` as an ``rsatoolbox.rdm.RDMs`` (see the module docstring); :func:`from_rsatoolbox` reverses it."""
    from rsatoolbox.rdm import RDMs as RsaRDMs

    rdm_descriptors = {column: list(rdms.descriptors[column]) for column in rdms.descriptors.columns}
    pattern_descriptors = {column: list(rdms.stimulus_descriptors[column])
                           for column in rdms.stimulus_descriptors.columns}
    descriptors = {} if rdms.provenance is None else {PROVENANCE_KEY: rdms.provenance.to_dict()}
    return RsaRDMs(
        rdms.dissimilarities.copy(),
        dissimilarity_measure=rdms.dissimilarity_measure,
        descriptors=descriptors or None,
        rdm_descriptors=rdm_descriptors or None,
        pattern_descriptors={"stimulus_id": list(rdms.stimulus_ids), **pattern_descriptors},
    )


def from_rsatoolbox(rsa_rdms: "rsatoolbox.rdm.RDMs", id_descriptor: str = "stimulus_id") -> RDMs:
    """An ``rsatoolbox.rdm.RDMs`` as :class:`~brainalign.data.RDMs`: ids from pattern descriptor
    ``id_descriptor`` (or ``index``, else 0..n-1), its other pattern descriptors as stimulus descriptors, its
    rdm_descriptors other than ``index`` as descriptor columns, and its ``dissimilarity_measure``."""
    patterns = rsa_rdms.pattern_descriptors
    ids = patterns.get(id_descriptor, patterns.get("index", range(rsa_rdms.n_cond)))
    descriptors = {key: list(value) for key, value in rsa_rdms.rdm_descriptors.items() if key != "index"}
    stimulus_descriptors = {key: list(value) for key, value in patterns.items() if key not in (id_descriptor, "index")}
    record = (rsa_rdms.descriptors or {}).get(PROVENANCE_KEY)
    return RDMs(np.asarray(rsa_rdms.get_vectors()), [str(i) for i in ids],
                pd.DataFrame(descriptors) if descriptors else None, rsa_rdms.dissimilarity_measure,
                pd.DataFrame(stimulus_descriptors) if stimulus_descriptors else None,
                None if record is None else Provenance.from_dict(record, "rsatoolbox RDMs descriptors"))
