"""Training: the only part of colorgan that imports Lightning (module.py, data.py, callbacks.py, lightning_cli.py).

objectives.py (what G and D minimize) and losses.py are plain torch, so benchmarks can reuse them without Lightning.
Import the submodules directly; this package imports nothing itself, so ``colorgan.training.objectives`` is cheap.
"""
