"""Live learning survives a restart: the demand posterior is saved per model version and restored.

The posterior's own round trip must be exact (a restored posterior decides as the saved one
would); the files are written atomically, throttled, flushed at shutdown; an unreadable file is
set aside, never overwritten, and the version starts from the prior.
"""

from __future__ import annotations

import doctest
import os
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

import pricepilot.serving.posterior_files as posterior_files_module
from pricepilot.clock import FixedClock
from pricepilot.config import ConfigError, load_settings
from pricepilot.errors import ValidationError
from pricepilot.pricing.posterior import DemandPosterior, Outcome
from pricepilot.serving.posterior_files import PosteriorFiles

from .engine_support import NOW, engine_client, engine_settings, promote_small_model
from .test_outcomes import purchase, quote


def learnt_posterior(n: int = 300, seed: int = 0) -> DemandPosterior:
    rng = np.random.default_rng(seed)
    post = DemandPosterior(prior_strength=3.0, prior_sd=0.4)
    for i in range(n):
        price = int(rng.choice([850, 900, 950, 999]))
        prob = float("nan") if i % 11 == 0 else float(rng.uniform(0.05, 0.6))
        post.learn_one(Outcome(product_id=f"P{i % 13}", category=f"c{i % 3}", price=price,
                               list_price=999, model_prob=prob, purchased=bool(rng.random() < 0.3)))
    return post


def test_the_docstring_example_runs() -> None:
    assert doctest.testmod(posterior_files_module).failed == 0


def test_a_restored_posterior_is_the_saved_one_exactly() -> None:
    post = learnt_posterior()
    back = DemandPosterior.from_bytes(post.to_bytes())
    assert back.to_bytes() == post.to_bytes()
    assert (back.prior_strength, back.prior_sd, back.category_sd) == (3.0, 0.4, 1.0)
    prices = np.array([850, 900, 950, 999])
    for pid, cat in [("P1", "c1"), ("P5", "c2"), ("new", "c0"), ("new", "unknown")]:
        for a, b in zip(post.correction(pid, cat), back.correction(pid, cat), strict=True):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(post.beta_params(pid, cat, prices, 999, None),
                        back.beta_params(pid, cat, prices, 999, None), strict=True):
            np.testing.assert_array_equal(a, b)
    # and it keeps learning from where it was, as the original does
    o = Outcome(product_id="P1", category="c1", price=900, list_price=999, model_prob=0.3,
                purchased=True)
    post.learn_one(o)
    back.learn_one(o)
    assert back.to_bytes() == post.to_bytes()


def _state(**over: object) -> bytes:
    import json

    empty_g = {"keys": [], "mean": [], "prec": [], "n": []}
    empty_c = {"keys": [], "price": [], "bought": [], "shown": []}
    st: dict[str, object] = {"format": 1, "prior_strength": 2, "prior_sd": 0.5, "category_sd": 1,
                             "counts": empty_c, "category_counts": empty_c, "products": empty_g,
                             "categories": empty_g, "product_category": {}}
    st.update(over)
    return json.dumps(st).encode()


@pytest.mark.parametrize(("data", "words"), [
    (b"{not json", "not valid JSON"),
    (b'{"format": 1}', "prior_strength"),
    (_state(format=2), "unknown format 2"),
    (_state(counts={"keys": ["A"], "price": [900], "bought": [3], "shown": [2]}),
     "counts A@900.*bought 3.0 of 2.0 shown"),
    (_state(category_counts={"keys": ["c"], "price": [18], "bought": [-1], "shown": [2]}),
     "category_counts c@18"),
    (_state(counts={"keys": ["A", "B"], "price": [900], "bought": [1], "shown": [2]}),
     "differ in length"),
    (_state(products={"keys": ["A", "B"], "mean": [0, 0, 0, 0], "prec": [1, 0, 0, 1, -1, 0, 0, 1],
                      "n": [3, 3]}), "products B.*not positive definite"),
    (_state(categories={"keys": ["c"], "mean": [0, 0], "prec": [1, 0, 0, 1], "n": [-2]}),
     "categories c.*count invalid"),
    (_state(products={"keys": ["A"], "mean": [0], "prec": [1, 0, 0, 1], "n": [1]}),
     "differ in length"),
    (_state(prior_strength=-1), "must be positive"),
])
def test_bad_state_is_refused_with_what_is_wrong(data: bytes, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        DemandPosterior.from_bytes(data)


def test_saves_are_throttled_per_version_and_the_rest_written_at_shutdown(tmp_path: Path) -> None:
    now = [100.0]
    files = PosteriorFiles(tmp_path / "p", save_seconds=30, monotonic=lambda: now[0])
    post = learnt_posterior(50)
    assert files.learnt("v1", post, 0) is False  # nothing learnt, nothing pending: no file
    assert not (tmp_path / "p").exists()
    assert files.learnt("v1", post, 5) is True  # first learning: saved at once
    first = files.path("v1").read_bytes()
    post.learn_one(Outcome(product_id="X", category="c", price=900, list_price=999,
                           model_prob=0.2, purchased=True))
    now[0] += 10
    assert files.learnt("v1", post, 1) is False  # within 30 s: kept pending
    assert files.path("v1").read_bytes() == first
    assert files.learnt("v2", learnt_posterior(5), 1) is True  # other versions: their own clock
    now[0] += 25
    assert files.learnt("v1", post, 0) is True  # nothing new this pass, but pending and due
    assert DemandPosterior.from_bytes(files.path("v1").read_bytes()).counts_[("X", 900)] == [1, 1]
    post.learn_one(Outcome(product_id="Y", category="c", price=900, list_price=999,
                           model_prob=0.2, purchased=False))
    assert files.learnt("v1", post, 1) is False
    assert files.save_pending() == 1  # shutdown
    assert ("Y", 900) in files.load("v1").counts_
    assert files.save_pending() == 0
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["v1.json", "v2.json"]  # no temps


def test_an_unreadable_file_is_set_aside_not_overwritten_and_learning_starts_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = PosteriorFiles(tmp_path, save_seconds=0)
    files.path("v1").write_bytes(b"garbage")
    post = files.load("v1")
    assert post.to_bytes() == DemandPosterior().to_bytes()
    assert (tmp_path / "v1.json.corrupt-1").read_bytes() == b"garbage"
    assert not files.path("v1").exists()
    assert "v1" in caplog.text and "unreadable" in caplog.text
    files.path("v1").write_bytes(b"{}")  # a second bad file keeps the first one too
    files.load("v1")
    assert (tmp_path / "v1.json.corrupt-1").read_bytes() == b"garbage"
    assert (tmp_path / "v1.json.corrupt-2").read_bytes() == b"{}"


def test_a_version_name_that_is_not_one_is_refused(tmp_path: Path) -> None:
    files = PosteriorFiles(tmp_path)
    for bad in ["../etc", "", "a/b", ".hidden"]:
        with pytest.raises(ValidationError, match="not a version name"):
            files.path(bad)


def test_a_failed_write_keeps_the_previous_file(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    files = PosteriorFiles(tmp_path, save_seconds=0)
    files.save("v1", learnt_posterior(20))
    before = files.path("v1").read_bytes()

    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        files.save("v1", learnt_posterior(40))
    assert files.path("v1").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["v1.json"]  # the temporary file is removed


def test_the_setting_is_validated() -> None:
    with pytest.raises(ConfigError, match="posterior_save_seconds"):
        load_settings(path=None, env={}, overrides={"service.posterior_save_seconds": -1})


def test_what_the_service_learnt_is_there_after_a_restart(tmp_path: Path) -> None:
    clock = FixedClock(NOW)
    settings = engine_settings(tmp_path)
    version = promote_small_model(settings.models_dir)
    with engine_client(settings, clock=clock, outcome_flush_seconds=0) as (client, backend):
        q = quote(client, "SKU-1", "SKU-2")["quotes"]
        clock.advance(timedelta(minutes=2))
        purchase(client, 1, "SKU-1", q[0]["price"], at=clock.now())
        clock.advance(timedelta(minutes=30))
        assert backend.app.learning.outcomes is not None and backend.app.learning.outcomes.flush() == 2
        learnt = backend.app.learning.pricing().engine.posterior
        assert learnt is not None
        saved = learnt.to_bytes()
    # the first learning pass saved it, and shutdown wrote anything later
    path = tmp_path / "posteriors" / f"{version}.json"
    assert path.read_bytes() == saved
    with engine_client(settings, clock=clock, outcome_flush_seconds=0) as (client, backend):
        restored = backend.app.learning.pricing().engine.posterior
        assert restored is not None and restored.to_bytes() == saved
        assert restored.counts_[("SKU-1", q[0]["price"])] == [1.0, 1.0]
        files = client.get("/readyz").json()["dependencies"]["posterior_files"]
        assert files == {"ok": True, "detail": f"0 saved, 0 failed; restored {version}: "
                                               f"{len(restored.products_)} products"}


def test_a_failing_save_is_reported_and_learning_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FixedClock(NOW)
    settings = engine_settings(tmp_path)
    promote_small_model(settings.models_dir)

    def disk_full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(posterior_files_module, "atomic_write", disk_full)
    with engine_client(settings, clock=clock, outcome_flush_seconds=0) as (client, backend):
        quote(client, "SKU-1")
        clock.advance(timedelta(minutes=30))
        assert backend.app.learning.outcomes is not None and backend.app.learning.outcomes.flush() == 1  # learnt anyway
        ready = client.get("/readyz").json()
        assert ready["ready"] is True  # informational: never "not ready"
        files = ready["dependencies"]["posterior_files"]
        assert files["ok"] is False
        assert "1 failed" in files["detail"] and "No space left on device" in files["detail"]
        monkeypatch.undo()  # the disk has room again: the next pass saves (it is due)
        quote(client, "SKU-2")
        clock.advance(timedelta(minutes=30))
        assert backend.app.learning.outcomes.flush() == 1
        files = client.get("/readyz").json()["dependencies"]["posterior_files"]
        assert files["ok"] is True and files["detail"].startswith("1 saved, 1 failed")


def test_with_saving_off_nothing_is_written(tmp_path: Path) -> None:
    clock = FixedClock(NOW)
    settings = engine_settings(tmp_path, **{"service.posterior_save_seconds": 0})
    promote_small_model(settings.models_dir)
    with engine_client(settings, clock=clock, outcome_flush_seconds=0) as (client, backend):
        quote(client, "SKU-1")
        clock.advance(timedelta(minutes=30))
        assert backend.app.learning.outcomes is not None and backend.app.learning.outcomes.flush() == 1
        assert backend.app.learning.posterior_files is None
    assert not (tmp_path / "posteriors").exists()
