"""The model registry: versioned demand models on disk, a promoted "current" one, and rollback.

Layout under ``settings.models_dir``::

    <version>/model.joblib     the fitted estimator (joblib pickle)
    <version>/manifest.json    ModelManifest: family, params, metrics, data range, features, hash
    current.json               {"current": version, "history": [earlier promoted versions]}

``current.json`` is replaced atomically (temp file + ``os.replace``), so a reader sees the old
or the new pointer, never half of one. The manifest holds the SHA-256 of ``model.joblib``; it is
checked before unpickling, and a missing, corrupt or tampered artefact raises
:class:`ModelArtefactError` (an :class:`~pricepilot.errors.Unavailable`): the pricing engine
falls back to list price on it. Pickles run code when loaded: the models directory must be
writable only by the shop's own training jobs.

>>> import tempfile
>>> from pricepilot.demand.synthetic import synthetic_frame
>>> from pricepilot.demand.models import LogisticDemand
>>> reg = ModelRegistry(tempfile.mkdtemp())
>>> m = reg.register(LogisticDemand().fit(synthetic_frame(500)))
>>> _ = reg.promote(m.version)
>>> reg.load_current().version == m.version
True
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from pricepilot.clock import Clock, SystemClock
from pricepilot.config import Settings

# the manifest types live apart so that listing the registry loads no ML library; re-exported
from pricepilot.demand.manifest import (
    CURRENT_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    VERSION_RE,
    CalibrationBin,
    DataRange,
    FoldResult,
    ModelManifest,
    Pointer,
    decode_manifest,
)
from pricepilot.errors import Conflict, NotFound, Unavailable, ValidationError
from pricepilot.fileio import atomic_write

if TYPE_CHECKING:  # scikit-learn, LightGBM, joblib and pandas load when a model is written or read
    import pandas as pd

    from pricepilot.demand.models import DemandEstimator


class ModelArtefactError(Unavailable):
    """A registered model's files are missing, unreadable or do not match their manifest."""

    def __init__(self, version: str, reason: str) -> None:
        super().__init__(f"demand model {version!r}", reason)
        self.version = version


def data_range(frame: pd.DataFrame) -> DataRange:
    """Rows and ``ts`` span of a training frame, for the manifest."""
    if "ts" in frame.columns and len(frame):
        return DataRange(rows=len(frame), ts_min=int(frame["ts"].min()), ts_max=int(frame["ts"].max()))
    return DataRange(rows=len(frame))


def _library_versions() -> dict[str, str]:
    import lightgbm
    import numpy
    import sklearn

    from pricepilot import __version__

    return {"pricepilot": __version__, "scikit-learn": sklearn.__version__,
            "lightgbm": lightgbm.__version__, "numpy": numpy.__version__}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in params.items():
        if v is None or isinstance(v, (bool, int, float, str)):
            out[k] = v
        elif isinstance(v, (list, tuple)):
            out[k] = [x if isinstance(x, (bool, int, float, str)) or x is None else str(x) for x in v]
        else:
            out[k] = str(v)
    return out


class ModelRegistry:
    """Versioned demand models under one directory; see the module docstring for the layout."""

    def __init__(self, root: str | Path, clock: Clock | None = None) -> None:
        self.root = Path(root)
        self.clock = clock or SystemClock()

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> ModelRegistry:
        return cls(settings.models_dir, clock)

    # ------------------------------------------------------------------ writing
    def register(
        self,
        model: DemandEstimator,
        *,
        data: DataRange | None = None,
        metrics: dict[str, float] | None = None,
        folds: list[FoldResult] | None = None,
        calibration: list[CalibrationBin] | None = None,
        elasticity: dict[str, float] | None = None,
        promotion_note: str | None = None,
        training_notes: list[str] | None = None,
    ) -> ModelManifest:
        """Store a fitted model as a new version; returns its manifest (not promoted).

        ``promotion_note``, when given, is why the promotion rule refuses this version; it is
        recorded (``promotable=False``) and the version can still be promoted by hand."""
        import joblib

        from pricepilot.demand.models import DemandEstimator

        if not isinstance(model, DemandEstimator) or not hasattr(model, "calibrator_"):
            raise ValidationError("model registry", "model", "only fitted demand estimators can be registered")
        now = self.clock.now().astimezone(timezone.utc)
        self.root.mkdir(parents=True, exist_ok=True)
        stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
        version = f"{model.family}-{stamp}"
        n = 1
        while (self.root / version).exists():
            n += 1
            version = f"{model.family}-{stamp}-{n}"
        model.version_ = version
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".staging-"))
        try:
            joblib.dump(model, staging / MODEL_FILE)
            manifest = ModelManifest(
                version=version, created_at=now.isoformat(), family=model.family,
                params=_jsonable(model.get_params()), features=list(model.feature_names_),
                data=data or DataRange(rows=int(getattr(model, "n_rows_", 0))),
                content_hash=_sha256(staging / MODEL_FILE), metrics=dict(metrics or {}),
                folds=list(folds or []), calibration=list(calibration or []),
                elasticity=dict(elasticity or {}), library_versions=_library_versions(),
                calibration_method=str(getattr(model.calibrator_, "method_", "")),
                calibration_note=getattr(model.calibrator_, "fallback_", None),
                promotable=promotion_note is None, promotion_note=promotion_note,
                training_notes=list(training_notes or []),
            )
            (staging / MANIFEST_FILE).write_bytes(msgspec.json.format(msgspec.json.encode(manifest)))
            # the version directory appears complete or not at all
            os.replace(staging, self.root / version)
        except BaseException:
            for f in staging.glob("*"):
                f.unlink(missing_ok=True)
            staging.rmdir()
            raise
        return manifest

    def _read_pointer(self) -> Pointer:
        path = self.root / CURRENT_FILE
        if not path.exists():
            return Pointer()
        try:
            return msgspec.json.decode(path.read_bytes(), type=Pointer)
        except msgspec.DecodeError as e:
            raise ModelArtefactError(CURRENT_FILE, f"the current-model pointer is corrupt: {e}") from e

    def _write_pointer(self, pointer: Pointer) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(self.root / CURRENT_FILE, msgspec.json.encode(pointer))

    def promote(self, version: str) -> ModelManifest:
        """Make ``version`` the current model (after checking it loads); the old one is remembered."""
        manifest = self.manifest(version)
        self.get(version)  # refuse to promote an artefact that would not load
        pointer = self._read_pointer()
        if pointer.current == version:
            return manifest
        if pointer.current is not None:
            pointer.history.append(pointer.current)
        pointer.current = version
        self._write_pointer(pointer)
        return manifest

    def rollback(self) -> str:
        """Return to the previously promoted version; returns it."""
        pointer = self._read_pointer()
        if not pointer.history:
            raise Conflict("model registry", "current", "there is no earlier promoted version to roll back to")
        pointer.current = pointer.history.pop()
        self._write_pointer(pointer)
        return pointer.current

    # ------------------------------------------------------------------ reading
    def _check_version(self, version: str) -> Path:
        if not VERSION_RE.match(version):
            raise ValidationError("model registry", "version", f"{version!r} is not a version id")
        path = self.root / version
        if not path.is_dir():
            raise NotFound("demand model", version)
        return path

    def manifest(self, version: str) -> ModelManifest:
        path = self._check_version(version) / MANIFEST_FILE
        try:
            return decode_manifest(path.read_bytes())
        except FileNotFoundError as e:
            raise ModelArtefactError(version, "manifest.json is missing") from e
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            raise ModelArtefactError(version, f"manifest.json is corrupt: {e}") from e

    def list(self) -> list[ModelManifest]:
        """Manifests of every readable version, oldest first."""
        if not self.root.is_dir():
            return []
        out = []
        for d in self.root.iterdir():
            if d.is_dir() and not d.name.startswith(".") and (d / MANIFEST_FILE).exists():
                out.append(self.manifest(d.name))
        return sorted(out, key=lambda m: (m.created_at, m.version))

    def get(self, version: str) -> DemandEstimator:
        """Load ``version``, verifying its content hash first."""
        import joblib

        from pricepilot.demand.models import DemandEstimator

        manifest = self.manifest(version)
        path = self.root / version / MODEL_FILE
        if not path.exists():
            raise ModelArtefactError(version, "model.joblib is missing")
        digest = _sha256(path)
        if digest != manifest.content_hash:
            raise ModelArtefactError(
                version, f"content hash mismatch (manifest {manifest.content_hash[:12]}, file {digest[:12]})"
            )
        try:
            model = joblib.load(path)
        except Exception as e:  # unpickling can fail in many ways (truncation, missing classes)
            raise ModelArtefactError(version, f"model.joblib cannot be loaded: {e}") from e
        if not isinstance(model, DemandEstimator) or model.version != version:
            raise ModelArtefactError(version, "model.joblib does not hold this demand model version")
        return model

    def current_version(self) -> str | None:
        return self._read_pointer().current

    def load_current(self) -> DemandEstimator:
        """The promoted model; :class:`~pricepilot.errors.NotFound` when none was promoted."""
        version = self.current_version()
        if version is None:
            raise NotFound("current demand model", str(self.root))
        return self.get(version)



__all__ = [
    "CURRENT_FILE", "MANIFEST_FILE", "MODEL_FILE", "VERSION_RE", "CalibrationBin", "DataRange",
    "FoldResult", "ModelArtefactError", "ModelManifest", "ModelRegistry", "Pointer", "data_range",
    "decode_manifest",
]
