"""Representational similarity analysis: RDMs from features and responses, decoding RDMs, comparisons,
readouts, individual variability, object dimensions and training trajectories."""
