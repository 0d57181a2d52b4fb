"""A model version's demand posterior learns its training history before it prices live, and
every process serving the version starts from it."""

from __future__ import annotations

from pathlib import Path

import pytest

import pricepilot
from pricepilot.demand.synthetic import synthetic_frame
from pricepilot.demand.training import in_stock
from pricepilot.errors import NotFound


def _open(root: Path, **kw: object) -> pricepilot.Shop:
    return pricepilot.open(paths__data_dir=str(root), **kw)


def test_training_with_a_warm_posterior_teaches_the_new_version_and_saves_it(tmp_path: Path) -> None:
    frame = synthetic_frame(2000, seed=5)
    with _open(tmp_path) as shop:
        manifest = shop.train(frame=frame, family="logistic", n_splits=2, warm_posterior=True)
        posterior = shop.app.learning.pricing().engine.posterior
        assert posterior is not None
        # every in-stock view, once (views of a sold-out product say nothing of demand)
        shown = sum(int(c[1]) for c in posterior.counts_.values())
        assert shown == len(in_stock(frame)) < len(frame)
        assert set(posterior.products_) == set(in_stock(frame)["product_id"])
    # the service (or any later process) loads the version's posterior from its file
    assert (tmp_path / "posteriors" / f"{manifest.version}.json").exists()
    with _open(tmp_path) as again:
        restored = again.app.learning.pricing().engine.posterior
        assert restored is not None and set(restored.products_) == set(posterior.products_)


def test_training_without_it_leaves_the_posterior_at_the_prior(tmp_path: Path) -> None:
    with _open(tmp_path) as shop:
        shop.train(frame=synthetic_frame(2000, seed=5), family="logistic", n_splits=2)
        posterior = shop.app.learning.pricing().engine.posterior
        assert posterior is not None and not posterior.products_


def test_a_warm_start_needs_a_model_and_is_skipped_without_live_learning(tmp_path: Path) -> None:
    frame = synthetic_frame(2000, seed=5)
    with _open(tmp_path / "a") as shop:
        with pytest.raises(NotFound):
            shop.warm_posterior(frame)
    with _open(tmp_path / "b", service__learn_outcomes="off") as shop:
        shop.train(frame=frame, family="logistic", n_splits=2)
        assert shop.warm_posterior(frame) == 0
        assert shop.app.learning.pricing().engine.posterior is None
