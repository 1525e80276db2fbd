"""Registry of the public data and weights the papers use, fetched with pooch into a cache you choose.

Every download goes to a private staging folder inside the cache, is checked against its checksum,
and only then renamed into place: a failed, partial or mismatching download leaves nothing behind.

Checksums: the CORnet files publish the first 8 hex digits of their SHA-256 in the file name
(torch.hub convention), which is checked. The Kamitani-lab figshare files and the THINGS-EEG2 OSF
files publish no checksum in their download scripts/pages, so the SHA-256 of a fetched file is
printed for you to pin (``fetch(..., sha256=...)``). THINGS-EEG2 has no stable per-file URL we
could verify offline: its entries point to the OSF project page for a manual download (then give
the folder to :func:`brainalign.data.load_things_eeg2`).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from brainalign.errors import DownloadError, MissingDatasetError, ValidationError
from brainalign.runs import output_folder

_FIGSHARE = "https://ndownloader.figshare.com/files/"
_SHEN_PAGE = "https://figshare.com/articles/Deep_Image_Reconstruction/7033577"
_SHEN_NOTE = "no checksum published (figshare ids from KamitaniLab/End2EndDeepImageReconstruction fmri_data/download_fmri.sh)"


@dataclass(frozen=True)
class Source:
    """One downloadable file. ``url=None``: only a landing ``page`` is known (manual download)."""

    name: str
    filename: str
    url: str | None
    page: str
    description: str
    sha256: str | None = None
    sha256_prefix: str | None = None
    checksum_note: str = "no checksum published"


def _shen(subject: int, split: str, file_id: int) -> Source:
    filename = f"sub-{subject:02d}_perceptionNaturalImage{split}_original_VC.h5"
    return Source(
        name=f"shen2019_sub-{subject:02d}_{split.lower()}", filename=filename, url=f"{_FIGSHARE}{file_id}",
        page=_SHEN_PAGE, checksum_note=_SHEN_NOTE,
        description=f"Shen et al. 2019 preprocessed fMRI (bdpy HDF5, visual cortex), subject {subject}, natural-image {split.lower()}",
    )


REGISTRY: dict[str, Source] = {
    source.name: source
    for source in [
        Source(
            name="cornet_s", filename="cornet_s-1d3f7974.pth",
            url="https://s3.amazonaws.com/cornet-models/cornet_s-1d3f7974.pth",
            page="https://github.com/dicarlolab/CORnet", sha256_prefix="1d3f7974",
            checksum_note="SHA-256 prefix 1d3f7974 from the published file name (torch.hub convention)",
            description="CORnet-S ImageNet weights (Kubilius et al. 2019), the ReAlnet base model",
        ),
        Source(
            name="cornet_z", filename="cornet_z-5c427c9c.pth",
            url="https://s3.amazonaws.com/cornet-models/cornet_z-5c427c9c.pth",
            page="https://github.com/dicarlolab/CORnet", sha256_prefix="5c427c9c",
            checksum_note="SHA-256 prefix 5c427c9c from the published file name (torch.hub convention)",
            description="CORnet-Z ImageNet weights (Kubilius et al. 2019)",
        ),
        Source(
            name="things_eeg2_preprocessed", filename="preprocessed_data", url=None,
            page="https://osf.io/3jk45/",
            checksum_note="no checksums published; per-file OSF links are listed on the project page",
            description="THINGS-EEG2 preprocessed EEG (sub-01..sub-10, preprocessed_eeg_{training,test}.npy), Gifford et al. 2022",
        ),
        Source(
            name="things_eeg2_images", filename="image_set", url=None, page="https://osf.io/y63gw/",
            checksum_note="no checksums published; download training_images.zip, test_images.zip, image_metadata.npy",
            description="THINGS-EEG2 image set and image_metadata.npy",
        ),
        Source(
            name="god_fmri", filename="Subject1.h5", url=None,
            page="https://figshare.com/articles/Generic_Object_Decoding/7387130",
            checksum_note="no checksums published; raw data: https://openneuro.org/datasets/ds001246",
            description="Horikawa & Kamitani 2017 Generic Object Decoding fMRI (Subject1-5.h5, bdpy HDF5)",
        ),
        _shen(1, "Training", 14830643), _shen(1, "Test", 14830631),
        _shen(2, "Training", 14830712), _shen(2, "Test", 14830697),
        _shen(3, "Training", 14830862), _shen(3, "Test", 14830856),
    ]
}


def fetch(
    source: str | Source,
    cache_dir: str | os.PathLike[str],
    sha256: str | None = None,
    url: str | None = None,
    progress: bool = False,
) -> Path:
    """Download ``source`` (a :data:`REGISTRY` name or a :class:`Source`) into ``cache_dir``; return its path.

    An existing file is checked and reused. ``sha256`` pins a full checksum (overrides the
    registry's), ``url`` a mirror. Raises :class:`DownloadError` on network errors, partial
    downloads and checksum mismatches (nothing is written), :class:`MissingDatasetError` for
    sources with no direct URL.
    """
    entry = _lookup(source)
    if sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise ValidationError(f"--sha256 {sha256!r} is not a SHA-256 checksum: give all 64 hex digits (a prefix would "
                              "accept other files); `brainalign fetch` prints the full checksum of a downloaded file")
    expected = sha256 or entry.sha256
    target = Path(cache_dir) / entry.filename
    if target.is_file():
        _verify(target, entry, expected, where="cached file")
        return target
    address = url or entry.url
    if address is None:
        raise MissingDatasetError(
            f"{entry.name} has no direct download URL; download it by hand from {entry.page} and put it at "
            f"{target} ({entry.description})"
        )
    with output_folder(target.parent):  # a failed download leaves no new empty cache folder
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{entry.filename}."))
        try:
            downloaded = _download(address, staging, entry.filename, expected, progress)
            _verify(downloaded, entry, expected, where=f"download from {address}")
            os.replace(downloaded, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _lookup(source: str | Source) -> Source:
    if isinstance(source, Source):
        return source
    if source not in REGISTRY:
        raise ValidationError(f"unknown source {source!r}; known sources: {sorted(REGISTRY)} (`brainalign fetch --list`)")
    return REGISTRY[source]


def _download(url: str, folder: Path, filename: str, sha256: str | None, progress: bool) -> Path:
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        path = pooch.retrieve(
            url, known_hash=f"sha256:{sha256}" if sha256 else None, fname=filename, path=folder,
            downloader=partial(_http_download, progress=progress),
        )
    except DownloadError:
        raise
    except ValueError as error:  # pooch's checksum mismatch
        raise DownloadError(f"checksum mismatch for {url}: {error}; nothing was saved (is the URL or the checksum outdated?)") from None
    except Exception as error:  # network errors, truncated transfers (requests/urllib3 exceptions)
        raise DownloadError(
            f"download of {url} failed or was cut off ({type(error).__name__}: {error}); nothing was saved, try again"
        ) from None
    finally:
        logger.setLevel(level)
    return Path(path)


def _http_download(url: str, output_file: str, pooch_object: object, check_only: bool = False, progress: bool = False) -> bool | None:
    """pooch downloader that also rejects transfers shorter than the announced Content-Length."""
    import requests

    from brainalign.progress import track

    chunk = 1 << 20
    with requests.get(url, stream=True, timeout=60) as response:
        response.raise_for_status()
        if check_only:
            return True
        announced = response.headers.get("Content-Length")
        total = None if announced is None else -(-int(announced) // chunk)
        received = 0
        with open(output_file, "wb") as handle:
            for block in track(response.iter_content(chunk), f"download {Path(url).name}", total=total, disable=not progress):
                handle.write(block)
                received += len(block)
    if announced is not None and received != int(announced):
        raise DownloadError(
            f"download of {url} was cut off after {received} of {announced} bytes; nothing was saved, try again"
        )
    return None


def _verify(path: Path, entry: Source, sha256: str | None, where: str) -> None:
    if not sha256 and not entry.sha256_prefix:
        return
    digest = file_sha256(path)
    expected = str(sha256 or entry.sha256_prefix)
    if not (digest == expected.lower() if sha256 else digest.startswith(expected.lower())):
        if where == "cached file":
            raise DownloadError(f"{path} has SHA-256 {digest}, expected {expected}...; delete it and fetch again")
        raise DownloadError(f"checksum mismatch for the {where}: SHA-256 {digest}, expected {expected}...; nothing was saved")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
