"""Aggregation: visit events counted into windows, then the privacy filter."""
