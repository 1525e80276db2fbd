"""Converters to and from the tools researchers already use: rsatoolbox RDMs (:mod:`.rsa_toolbox`), MNE
epochs for EEG responses (:mod:`.mne_epochs`) and a Brain-Score vision model (:mod:`.brainscore`).
Each third-party package is imported only when its converter is called."""
from __future__ import annotations

from brainalign._lazy import lazy_getattr

_NAMES = {
    "to_rsatoolbox": ".rsa_toolbox",
    "from_rsatoolbox": ".rsa_toolbox",
    "to_mne_epochs": ".mne_epochs",
    "from_mne_epochs": ".mne_epochs",
    "BrainScoreModel": ".brainscore",
    "brainscore_model": ".brainscore",
}
__all__ = sorted(_NAMES)
__getattr__ = lazy_getattr(__name__, _NAMES)
