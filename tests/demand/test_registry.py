from __future__ import annotations

from datetime import datetime, timedelta, timezone

import joblib
import msgspec
import numpy as np
import pytest

from pricepilot.clock import FixedClock
from pricepilot.config import load_settings
from pricepilot.demand.evaluation import FoldResult
from pricepilot.demand.models import LGBMDemand, LogisticDemand
from pricepilot.demand.registry import (
    CURRENT_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    DataRange,
    ModelArtefactError,
    ModelRegistry,
    data_range,
)
from pricepilot.demand.synthetic import synthetic_frame
from pricepilot.errors import Conflict, NotFound, PricepilotError, Unavailable, ValidationError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
PRICES = np.array([800, 1000, 1200], dtype=np.int64)


@pytest.fixture(scope="module")
def models():
    frame = synthetic_frame(1500, seed=21)
    return LogisticDemand().fit(frame), LGBMDemand(n_estimators=10).fit(frame), frame


@pytest.fixture
def registry(tmp_path):
    return ModelRegistry(tmp_path / "models", clock=FixedClock(T0))


def test_a_registered_model_loads_back_with_the_same_predictions(registry, models):
    logistic, lgbm, frame = models
    m = registry.register(lgbm, data=data_range(frame), metrics={"log_loss": 0.6})
    assert m.version.startswith("lgbm-20260301T120000") and m.family == "lgbm"
    assert m.data == DataRange(rows=1500, ts_min=int(frame["ts"].min()), ts_max=int(frame["ts"].max()))
    assert m.features == lgbm.feature_names_ and m.metrics == {"log_loss": 0.6}
    assert m.params["n_estimators"] == 10 and len(m.content_hash) == 64
    loaded = registry.get(m.version)
    assert loaded.version == m.version
    np.testing.assert_array_equal(loaded.predict_curve({}, PRICES, 1000), lgbm.predict_curve({}, PRICES, 1000))
    assert registry.manifest(m.version) == m


def test_versions_are_listed_oldest_first_and_never_collide(registry, models):
    a = registry.register(models[0])
    b = registry.register(models[0])  # same clock instant
    registry.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
    c = registry.register(models[1])
    assert len({a.version, b.version, c.version}) == 3
    assert [m.version for m in registry.list()] == [a.version, b.version, c.version]


def test_promote_and_rollback_move_the_current_pointer(registry, models):
    a = registry.register(models[0])
    b = registry.register(models[1])
    with pytest.raises(NotFound):
        registry.load_current()
    registry.promote(a.version)
    registry.promote(b.version)
    assert registry.current_version() == b.version
    assert registry.load_current().version == b.version
    assert registry.rollback() == a.version
    assert registry.load_current().version == a.version
    with pytest.raises(Conflict, match="no earlier"):
        registry.rollback()
    registry.promote(a.version)  # promoting the current one again is a no-op
    with pytest.raises(Conflict):
        registry.rollback()


def test_the_pointer_file_is_replaced_whole_leaving_no_temporary_files(registry, models):
    a = registry.register(models[0])
    registry.promote(a.version)
    names = sorted(p.name for p in registry.root.iterdir())
    assert names == sorted([a.version, CURRENT_FILE])
    assert msgspec.json.decode((registry.root / CURRENT_FILE).read_bytes())["current"] == a.version


def test_a_corrupt_artefact_raises_a_clear_pricepilot_error(registry, models):
    m = registry.register(models[0])
    path = registry.root / m.version / MODEL_FILE
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelArtefactError, match="hash mismatch") as e:
        registry.get(m.version)
    assert isinstance(e.value, Unavailable) and isinstance(e.value, PricepilotError)
    assert e.value.http_status == 503


def test_a_swapped_artefact_fails_the_hash_check(registry, models):
    a = registry.register(models[0])
    b = registry.register(models[1])
    (registry.root / a.version / MODEL_FILE).write_bytes((registry.root / b.version / MODEL_FILE).read_bytes())
    with pytest.raises(ModelArtefactError, match="hash"):
        registry.get(a.version)


def test_an_unloadable_pickle_with_a_matching_hash_is_still_refused(registry, models):
    m = registry.register(models[0])
    path = registry.root / m.version / MODEL_FILE
    joblib.dump({"not": "a model"}, path)
    manifest = msgspec.structs.replace(registry.manifest(m.version), content_hash=_sha(path))
    (registry.root / m.version / MANIFEST_FILE).write_bytes(msgspec.json.encode(manifest))
    with pytest.raises(ModelArtefactError, match="does not hold"):
        registry.get(m.version)
    path.write_bytes(b"garbage that is not a pickle")
    manifest = msgspec.structs.replace(manifest, content_hash=_sha(path))
    (registry.root / m.version / MANIFEST_FILE).write_bytes(msgspec.json.encode(manifest))
    with pytest.raises(ModelArtefactError, match="cannot be loaded"):
        registry.get(m.version)


def _sha(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_missing_files_raise_clear_errors(registry, models):
    m = registry.register(models[0])
    (registry.root / m.version / MODEL_FILE).unlink()
    with pytest.raises(ModelArtefactError, match="model.joblib is missing"):
        registry.get(m.version)
    (registry.root / m.version / MANIFEST_FILE).unlink()
    with pytest.raises(ModelArtefactError, match="manifest.json is missing"):
        registry.get(m.version)
    with pytest.raises(NotFound):
        registry.get("lgbm-never-registered")


def test_a_corrupt_manifest_or_pointer_raises_a_clear_error(registry, models):
    m = registry.register(models[0])
    registry.promote(m.version)
    (registry.root / CURRENT_FILE).write_text("{not json")
    with pytest.raises(ModelArtefactError, match="pointer"):
        registry.load_current()
    (registry.root / m.version / MANIFEST_FILE).write_text('{"version": 3}')
    with pytest.raises(ModelArtefactError, match="corrupt"):
        registry.manifest(m.version)


def test_promote_refuses_a_broken_version_and_keeps_the_current_one(registry, models):
    good = registry.register(models[0])
    bad = registry.register(models[1])
    registry.promote(good.version)
    (registry.root / bad.version / MODEL_FILE).write_bytes(b"x")
    with pytest.raises(ModelArtefactError):
        registry.promote(bad.version)
    assert registry.current_version() == good.version


@pytest.mark.parametrize("version", ["../etc", "a/b", "", ".hidden"])
def test_a_version_that_is_not_an_id_is_refused(registry, version):
    with pytest.raises(ValidationError):
        registry.get(version)


def test_only_fitted_demand_models_can_be_registered(registry):
    with pytest.raises(ValidationError, match="fitted"):
        registry.register(LogisticDemand())


def test_an_empty_registry_lists_nothing_and_uses_the_settings_directory(tmp_path):
    s = load_settings(None, env={}, overrides={"paths.data_dir": str(tmp_path)})
    reg = ModelRegistry.from_settings(s)
    assert reg.root == tmp_path / "models" and reg.list() == []


def test_a_model_with_a_nan_fold_metric_is_read_back_and_promoted(registry, models):
    # a time fold whose held-out block has one class has no AUC: NaN, written as JSON null
    fold = FoldResult(fold=0, train_rows=50, test_rows=20, train_ts_max=1, test_ts_min=2,
                      metrics={"auc": float("nan"), "log_loss": 0.5})
    m = registry.register(models[0], metrics={"auc": 0.6}, folds=[fold])
    assert registry.promote(m.version).version == m.version
    back = registry.manifest(m.version).folds[0].metrics
    assert np.isnan(back["auc"]) and back["log_loss"] == 0.5
    assert [x.version for x in registry.list()] == [m.version]
