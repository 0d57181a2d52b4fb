from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["candidates", "decision", "engine", "explore", "guardrails", "history", "lp", "network",
           "objective", "personal", "posterior", "price_response", "quotes", "smoothing",
           "stage_cost", "testing"]
# this round's modules elsewhere whose examples are their documentation
OTHERS = ["pricepilot.demand.prior", "pricepilot.demand.price_information",
          "pricepilot.serving.base_prices", "pricepilot.cli.demo_cmd"]


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_of_the_pricing_modules_run(name: str) -> None:
    mod = importlib.import_module(f"pricepilot.pricing.{name}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@pytest.mark.parametrize("name", OTHERS)
def test_the_docstring_examples_of_the_day_0_curve_and_its_neighbours_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
