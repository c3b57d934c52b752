"""Data files that ship inside the wheel and sit at the top of a source checkout: the mask library and the configs."""

from __future__ import annotations

from pathlib import Path

__all__ = ["resource_dir"]


def resource_dir(in_package: str, in_checkout: str) -> Path:
    """``colorgan/<in_package>`` of an installed wheel, else ``<in_checkout>`` beside a source checkout's package.

    pyproject.toml's force-include copies the checkout's top-level folders into the wheel under the package.
    """
    package = Path(__file__).resolve().parent
    for candidate in (package / in_package, package.parent / in_checkout):
        if candidate.is_dir():
            return candidate
    return package.parent / in_checkout
