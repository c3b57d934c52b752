"""Scoring colorizations (no Lightning): per-image scores, per-family metrics, the fixed mask protocol, LPIPS and
FID from local weights, the gray and mean-color baselines, :func:`run.evaluate` and its reports.

``colorgan test`` (training/module.py) and ``colorgan evaluate`` (run.py) share all of it, so their numbers agree.
"""
