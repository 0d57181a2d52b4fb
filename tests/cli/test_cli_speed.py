"""Issue #13 point 12: a fast CLI. ``--version`` answers; ``--help``, ``config show`` and
``models list`` pull in no heavy library (pandas, numpy, scikit-learn, LightGBM, SQLAlchemy...),
which is what made them take seconds. Not timed here (the timings are benchmarks/cli.py's);
what is checked is the cause: which modules a fresh interpreter imports."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from typer.testing import CliRunner

HEAVY = ("pandas", "numpy", "pyarrow", "sklearn", "lightgbm", "scipy", "sqlalchemy", "joblib",
         "pricepilot.serving", "pricepilot.pricing", "pricepilot.store", "pricepilot.events.ingest")


def _heavy_after(code: str) -> list[str]:
    """The HEAVY modules a fresh interpreter has imported after running ``code``."""
    probe = (f"{code}\nimport sys, json\n"
             f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_point12_version_prints_the_version_and_exits_0() -> None:
    from pricepilot.cli.main import app

    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"pricepilot {version('pricepilot')}"


def test_point12_help_imports_no_heavy_library() -> None:
    assert _heavy_after("import pricepilot.cli.main") == []
    assert _heavy_after("import pricepilot") == []
    # every command is still registered (help lists them all)
    from pricepilot.cli.main import app

    res = CliRunner().invoke(app, ["--help"])
    assert res.exit_code == 0
    for name in ("demo", "sim", "ingest", "train", "price", "cart", "serve", "models", "config"):
        assert name in res.output


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "pricepilot.toml"
    cfg.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n')
    return cfg


def _run(cfg: Path, *args: str) -> str:
    return (f"from typer.testing import CliRunner\nfrom pricepilot.cli.main import app\n"
            f"r = CliRunner().invoke(app, ['-c', {str(cfg)!r}, *{list(args)!r}])\n"
            f"assert r.exit_code == 0, r.output\nprint(r.output)")


def test_point12_config_show_and_models_list_load_no_model(tmp_path: Path) -> None:
    from pricepilot.config import load_settings
    from pricepilot.demand.registry import DataRange, ModelManifest

    cfg = _config(tmp_path)
    models = load_settings(cfg).models_dir
    # a registered version (its manifest and pointer, as the registry writes them): listing
    # reads the index, never the model file
    (models / "lgbm-1").mkdir(parents=True)
    m = ModelManifest(version="lgbm-1", created_at="2026-03-01T00:00:00Z", family="lgbm",
                      params={}, features=[], data=DataRange(rows=1234), content_hash="0" * 64,
                      metrics={"log_loss": 0.25, "auc": 0.7})
    import msgspec

    (models / "lgbm-1" / "manifest.json").write_bytes(msgspec.json.encode(m))
    (models / "current.json").write_text('{"current": "lgbm-1", "history": ["lgbm-1"]}')
    assert _heavy_after(_run(cfg, "config", "show")) == []
    assert _heavy_after(_run(cfg, "models", "list")) == []
    res = CliRunner().invoke(__import__("pricepilot.cli.main").cli.main.app,
                             ["-c", str(cfg), "models", "list"])
    assert res.exit_code == 0 and "lgbm-1" in res.output and "1,234" in res.output
