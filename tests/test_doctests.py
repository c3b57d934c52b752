"""The examples in the docstrings of the pure modules run and hold (``colorize``'s, which needs a trained model, is
marked ``+SKIP``)."""

import doctest
import importlib

import pytest

MODULES = ["colorgan.color", "colorgan.hints", "colorgan.models.layers", "colorgan.models.ab_classes",
           "colorgan.inference"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
