"""RDMs to rsatoolbox and back: exact, with measure, descriptors, stimulus descriptors and provenance."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign.data import RDMs
from brainalign.interop import from_rsatoolbox, to_rsatoolbox
from brainalign.provenance import Provenance

rsatoolbox = pytest.importorskip("rsatoolbox")


def _rdms(provenance: Provenance | None) -> RDMs:
    rng = np.random.default_rng(3)
    return RDMs(rng.random((3, 10)), list("vwxyz"), pd.DataFrame({"layer": ["V1", "V2", "IT"], "time": [0.1, 0.2, 0.3]}),
                "euclidean", pd.DataFrame({"concept": ["cat", "dog", "cat", "car", "cup"], "size": [1, 2, 1, 3, 1]}),
                provenance)


def test_round_trip_is_exact() -> None:
    provenance = Provenance("aligned", "runs/aligned", "cornet_z", "runs/aligned/model.safetensors", "ab" * 32, 3,
                            None, 64, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), ("V1", "V2", "IT"), "avg", 2)
    for record in (provenance, None):
        rdms = _rdms(record)
        converted = to_rsatoolbox(rdms)
        assert isinstance(converted, rsatoolbox.rdm.RDMs) and converted.dissimilarity_measure == "euclidean"
        assert list(converted.pattern_descriptors["concept"]) == list(rdms.stimulus_descriptors["concept"])
        np.testing.assert_array_equal(converted.get_matrices(), rdms.matrices())
        back = from_rsatoolbox(converted)
        np.testing.assert_array_equal(back.dissimilarities, rdms.dissimilarities)
        assert back.stimulus_ids == rdms.stimulus_ids and back.dissimilarity_measure == "euclidean"
        assert back.provenance == record
        pd.testing.assert_frame_equal(back.descriptors, rdms.descriptors)
        pd.testing.assert_frame_equal(back.stimulus_descriptors, rdms.stimulus_descriptors)


def test_rsatoolbox_rdms_without_ids_get_positions() -> None:
    native = rsatoolbox.rdm.RDMs(np.arange(6.0)[None], dissimilarity_measure="correlation")
    converted = from_rsatoolbox(native)
    assert converted.stimulus_ids == ["0", "1", "2", "3"] and converted.provenance is None
    np.testing.assert_array_equal(converted.dissimilarities, [np.arange(6.0)])
