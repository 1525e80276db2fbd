"""Figures and self-contained HTML reports, drawn from result files alone."""
