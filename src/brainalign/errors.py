"""Errors raised on bad input. Every message names the input, what was wrong, and the fix."""
from __future__ import annotations


class BrainAlignError(Exception):
    """Base of every error brainalign raises on bad input or a failed precondition."""


class ValidationError(BrainAlignError, ValueError):
    """An array, field or argument has the wrong shape, type or value."""


class DataFormatError(BrainAlignError):
    """A file exists but is not in the expected format (truncated, wrong keys, undecodable)."""


class WeightsError(BrainAlignError):
    """A weights file does not match the model (missing or unexpected keys, wrong shapes)."""


class ConfigError(BrainAlignError):
    """A YAML config has an unknown key, a missing key or a value outside the allowed set."""


class DownloadError(BrainAlignError):
    """A download failed, was partial, or its checksum did not match."""


class TrainingError(BrainAlignError):
    """Training cannot go on (e.g. the loss stopped being finite); the message says which setting to change."""


class RunExistsError(BrainAlignError):
    """An output path cannot be used as it is: a folder brainalign did not write, a finished or unfinished run
    (without --force/--resume), a run of another kind, a run held by another process, a file where a folder
    is expected, or an existing file brainalign did not write."""


class MissingDatasetError(BrainAlignError):
    """A dataset a config needs is not on disk; the message says where to get it."""
