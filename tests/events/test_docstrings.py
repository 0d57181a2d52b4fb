"""The examples in the ingestion modules' docstrings are their documentation: they must run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["pricepilot.events.plausibility", "pricepilot.events.conflicts",
           "pricepilot.events.clean", "pricepilot.events.validate", "pricepilot.events.ingest",
           "pricepilot.serving.live_events", "pricepilot.serving.price_history"]


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_of_the_ingestion_modules_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
