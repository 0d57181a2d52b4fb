from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["candidates", "decision", "engine", "explore", "guardrails", "history", "lp", "network",
           "objective", "personal", "posterior", "quotes", "smoothing", "testing"]


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_of_the_pricing_modules_run(name: str) -> None:
    mod = importlib.import_module(f"pricepilot.pricing.{name}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
