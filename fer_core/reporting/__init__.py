"""Reporting: evaluation, model cards and runs, charts, saliency."""
