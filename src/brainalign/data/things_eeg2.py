"""THINGS-EEG2 (Gifford et al. 2022) preprocessed EEG, as ReAlnet uses it.

Published layout (OSF, https://osf.io/3jk45/)::

    <root>/preprocessed_data/sub-01/preprocessed_eeg_training.npy   (16540 images, 4 reps, 17, 100)
    <root>/preprocessed_data/sub-01/preprocessed_eeg_test.npy       (200 images, 80 reps, 17, 100)
    <root>/image_set/image_metadata.npy   (train/test image file names and concepts)

(``<root>/sub-01/...`` and ``<root>/image_metadata.npy`` are accepted too.) Each file is a
*pickled* Python dict (``preprocessed_eeg_data``, ``ch_names``, ``times`` -0.2, -0.19, ..., 0.79 s at
100 Hz), saved with ``np.save``/``pickle``. Unpickling a file can run arbitrary code, so these files
are read only when you pass ``allow_pickle=True`` for files you trust (downloaded from OSF yourself).
:func:`convert_things_eeg2` then re-saves them once as pickle-free ``.npz`` files that load safely.

The files hold every channel the preprocessing kept (the 17 occipital/parietal channels whose names
start with O or P, ``THINGS_EEG2_CHANNELS``) and the whole epoch (-200..790 ms). The ReAlnet target
(17 channels x the 20 samples 0, 10, ..., 190 ms, repetitions averaged = 340 values) is declared in the
training config (``data.target``, ``configs/realnet_eeg.yaml``) and built by :mod:`brainalign.align.targets`.

Stimulus ids are ``"<concept folder>/<image file stem>"`` (e.g. ``00001_aardvark/aardvark_01b``),
the ids :meth:`Stimuli.from_folder` gives for the ``image_set/{training,test}_images`` folders.
"""
from __future__ import annotations

import csv
import os
import pickle
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from brainalign.data.responses import Responses
from brainalign.errors import DataFormatError, MissingDatasetError, ValidationError

FILES = {"train": "preprocessed_eeg_training.npy", "test": "preprocessed_eeg_test.npy"}
_PICKLE_HELP = (
    "it is a pickled Python object, and unpickling can execute arbitrary code. Only if you trust the "
    "file (e.g. you downloaded it from the official OSF project yourself), pass allow_pickle=True "
    "(CLI: --trust), or convert it once to safe .npz files with convert_things_eeg2(..., allow_pickle=True)"
)


def read_pickled_dict(path: str | os.PathLike[str], allow_pickle: bool = False) -> dict[str, Any]:
    """Read a dict saved with ``np.save(dict)`` or ``pickle.dump`` (needs ``allow_pickle=True``)."""
    source = Path(path)
    if not source.is_file():
        raise MissingDatasetError(
            f"{source} does not exist; download THINGS-EEG2 from https://osf.io/3jk45/ "
            f"(see `brainalign fetch --list`)"
        )
    if not allow_pickle:
        raise DataFormatError(f"refusing to read {source}: {_PICKLE_HELP}")
    try:
        loaded = np.load(source, allow_pickle=True)
    except (pickle.UnpicklingError, EOFError, ValueError, OSError, AttributeError, ImportError) as error:
        raise DataFormatError(f"{source} is truncated or not a pickled dict ({type(error).__name__}: {error}); download it again") from None
    if isinstance(loaded, np.ndarray) and loaded.dtype == object and loaded.shape == ():
        loaded = loaded.item()
    if not isinstance(loaded, dict):
        raise DataFormatError(f"{source} holds a {type(loaded).__name__}, expected a dict; is it a THINGS-EEG2 file?")
    return loaded


def read_preprocessed_file(
    path: str | os.PathLike[str],
    stimulus_ids: Sequence[str] | None = None,
    subject: str = "",
    allow_pickle: bool = False,
) -> Responses:
    """One ``preprocessed_eeg_{training,test}.npy`` as EEG :class:`Responses` (all repetitions, times, channels).

    ``stimulus_ids``: one per image (default ``img00000``, ... in file order).
    """
    content = read_pickled_dict(path, allow_pickle)
    missing = [key for key in ("preprocessed_eeg_data", "ch_names", "times") if key not in content]
    if missing:
        raise DataFormatError(f"{path} lacks key(s) {missing} (has {sorted(content)}); is it a THINGS-EEG2 preprocessed file?")
    data = np.asarray(content["preprocessed_eeg_data"])
    if data.ndim != 4:
        raise DataFormatError(
            f"{path}: preprocessed_eeg_data has shape {data.shape}, expected (images, repetitions, channels, times)"
        )
    times = np.asarray(content["times"], dtype=np.float64)
    ids = [f"img{i:05d}" for i in range(len(data))] if stimulus_ids is None else list(stimulus_ids)
    if len(ids) != len(data):
        raise DataFormatError(
            f"{path} holds {len(data)} images but the image metadata lists {len(ids)}; use the metadata of the "
            f"same data release"
        )
    return Responses(
        data.astype(np.float32, copy=False), ids, "eeg", subject=subject, channels=list(content["ch_names"]),
        times=times, sfreq=float(np.round(1.0 / np.median(np.diff(times)), 6)),
        info={"source": str(path), "dataset": "THINGS-EEG2"},
    )


def image_ids(metadata: dict[str, Any], split: str) -> tuple[list[str], list[str]]:
    """``(stimulus_ids, concepts)`` of ``split`` from a THINGS-EEG2 ``image_metadata`` dict."""
    try:
        concepts = [str(c) for c in metadata[f"{split}_img_concepts"]]
        files = [str(f) for f in metadata[f"{split}_img_files"]]
    except KeyError as error:
        raise DataFormatError(
            f"image metadata lacks {error}; expected keys train_img_concepts/train_img_files/test_img_concepts/test_img_files"
        ) from None
    return [f"{concept}/{Path(name).stem}" for concept, name in zip(concepts, files)], concepts


def read_test_concepts(path: str | os.PathLike[str]) -> list[str]:
    """The 200 test concept folder names (``00001_aircraft_carrier``, ...) from the derived CSV, in test order."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: int(row["test_index0"]))
    return [row["test_folder_name"] for row in rows]


def load_things_eeg2(
    root: str | os.PathLike[str],
    subject: int | str = 1,
    split: str = "train",
    allow_pickle: bool = False,
    metadata: str | os.PathLike[str] | None = None,
    test_concepts_csv: str | os.PathLike[str] | None = None,
) -> Responses:
    """One subject's split as recorded: ``(n_images, n_repetitions, n_channels, n_times)`` EEG Responses.

    ``root``: the THINGS-EEG2 folder (published ``.npy`` files, read only with ``allow_pickle=True``)
    or a folder written by :func:`convert_things_eeg2` (safe; used when present).
    ``metadata``: ``image_metadata.npy`` (found under ``root`` by default). Without it, test ids are
    the concept folder names from ``test_concepts_csv`` (one image per concept); training needs it.
    The ReAlnet target (channels, 0-190 ms, repetitions averaged) is built from these responses by
    :mod:`brainalign.align.targets`, as the training config declares it.
    """
    if split not in FILES:
        raise ValidationError(f"split={split!r}; choose 'train' or 'test'")
    folder = _subject_folder(Path(root), subject)
    return _read_split(folder, Path(root), split, allow_pickle, metadata, test_concepts_csv)


def convert_things_eeg2(
    root: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    subjects: Sequence[int | str] = (1,),
    allow_pickle: bool = False,
    metadata: str | os.PathLike[str] | None = None,
    test_concepts_csv: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> list[Path]:
    """Re-save the pickled files of ``subjects`` as ``out_dir/sub-XX/{train,test}.npz`` (Responses, no pickle).

    Needs ``allow_pickle=True`` (read the module docstring). ``out_dir`` is a run folder
    (:func:`brainalign.runs.open_run`: new or empty, or with ``force`` a conversion to redo); a failure
    removes what was written. Returns the written paths. :func:`load_things_eeg2` reads ``out_dir``
    without any opt-in.
    """
    from brainalign.runs import check_run_dir, mark_finished, open_run

    check_run_dir(out_dir, "convert-things-eeg2", force=force, resumable=False)
    folders = [_subject_folder(Path(root), subject) for subject in subjects]
    written = []
    with open_run(out_dir, "convert-things-eeg2", force=force, resumable=False):
        for folder in folders:
            for split in FILES:
                responses = _read_split(folder, Path(root), split, allow_pickle, metadata, test_concepts_csv)
                written.append(responses.save(Path(out_dir) / folder.name / f"{split}.npz"))
        mark_finished(out_dir, {"subjects": [folder.name for folder in folders]})
    return written


def _subject_folder(root: Path, subject: int | str) -> Path:
    name = f"sub-{int(subject):02d}" if str(subject).isdigit() else str(subject)
    for candidate in (root / name, root / "preprocessed_data" / name):
        if candidate.is_dir():
            return candidate
    raise MissingDatasetError(
        f"no folder {name} under {root} (or {root / 'preprocessed_data'}); download the preprocessed THINGS-EEG2 "
        f"data from https://osf.io/3jk45/ and pass its folder"
    )


def _read_split(
    folder: Path, root: Path, split: str, allow_pickle: bool, metadata: Any, test_concepts_csv: Any
) -> Responses:
    converted = folder / f"{split}.npz"
    if converted.is_file():
        return Responses.load(converted)
    ids = _stimulus_ids(root, split, allow_pickle, metadata, test_concepts_csv)
    return read_preprocessed_file(folder / FILES[split], ids, subject=folder.name, allow_pickle=allow_pickle)


def _stimulus_ids(root: Path, split: str, allow_pickle: bool, metadata: Any, test_concepts_csv: Any) -> list[str]:
    candidates = [Path(metadata)] if metadata else [
        root / "image_metadata.npy", root / "image_set" / "image_metadata.npy", root.parent / "image_set" / "image_metadata.npy"
    ]
    found = next((path for path in candidates if path.is_file()), None)
    if found is not None:
        return image_ids(read_pickled_dict(found, allow_pickle), split)[0]
    if split == "test" and test_concepts_csv is not None:
        return read_test_concepts(test_concepts_csv)
    raise MissingDatasetError(
        f"image_metadata.npy not found (looked at {[str(p) for p in candidates]}); download it from the THINGS-EEG2 "
        f"image set on OSF and pass metadata=PATH" + (", or pass test_concepts_csv=PATH for the test split" if split == "test" else "")
    )
