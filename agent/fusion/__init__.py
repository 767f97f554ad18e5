"""Fusion: observations from all feeds become anonymous visits."""
