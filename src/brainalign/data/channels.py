"""EEG channel sets used by the loaders and the simulated observer."""
from __future__ import annotations

import numpy as np

# The 17 occipital and parietal channels kept in the THINGS-EEG2 preprocessed files, in the files'
# order (Gifford et al. 2022 preprocessing selects channels starting with "O" or "P").
THINGS_EEG2_CHANNELS = (
    "Pz", "P3", "P7", "O1", "Oz", "O2", "P4", "P8", "P1", "P5", "PO7", "PO3", "POz", "PO4", "PO8", "P6", "P2",
)

# Approximate flat scalp positions (x: left -> right, y: back -> front, head radius ~1) of the 17
# channels, for smooth simulated topographies.
CHANNEL_POSITIONS = {
    "Pz": (0.0, -0.39), "P1": (-0.14, -0.40), "P2": (0.14, -0.40), "P3": (-0.28, -0.43),
    "P4": (0.28, -0.43), "P5": (-0.42, -0.48), "P6": (0.42, -0.48), "P7": (-0.55, -0.55),
    "P8": (0.55, -0.55), "POz": (0.0, -0.58), "PO3": (-0.20, -0.60), "PO4": (0.20, -0.60),
    "PO7": (-0.42, -0.68), "PO8": (0.42, -0.68), "O1": (-0.18, -0.78), "Oz": (0.0, -0.80),
    "O2": (0.18, -0.78),
}


def channel_positions(names: tuple[str, ...] = THINGS_EEG2_CHANNELS) -> np.ndarray:
    """``(n_channels, 2)`` flat positions of ``names``."""
    return np.array([CHANNEL_POSITIONS[name] for name in names])
