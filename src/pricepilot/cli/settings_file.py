"""Adding an API key's digest to ``[service.api_keys]`` of a settings file, safely.

The file is edited as text, so its comments, order and every other setting are kept: the new
``"<digest>" = [<scopes>]`` line goes right under the file's ``[service.api_keys]`` header, or a
new such table is appended when there is none (never a second one: TOML forbids a table defined
twice, and the file would no longer load). Before anything is written, the edited text is parsed
again and must hold exactly the old settings plus the new key, and still be valid settings;
then it replaces the file atomically (a crash leaves the old file or the new, never half). A
``service.api_keys`` written another way (an inline table, a dotted key) is not rewritten: the
error says so, and nothing is changed. No TOML writer (tomli-w, tomlkit) is a dependency of
pricepilot; this one edit does not need one.

>>> import tempfile, pathlib, tomllib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "pricepilot.toml"
>>> _ = p.write_text('[shop]\\nname = "demo"  # ours\\n')
>>> add_api_key(p, "a" * 64, ["admin"])
>>> add_api_key(p, "b" * 64, ["storefront"])
>>> tomllib.loads(p.read_text())["service"]["api_keys"] == {"a" * 64: ["admin"], "b" * 64: ["storefront"]}
True
>>> p.read_text().count("[service.api_keys]"), "# ours" in p.read_text()
(1, True)
"""

from __future__ import annotations

import copy
import json
import os
import re
import stat
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pricepilot.errors import ConfigError

_SETTING = "service.api_keys"
# the table header, bare or quoted keys, e.g. [service.api_keys] or [ "service" . "api_keys" ]
_HEADER = re.compile(r'^[ \t]*\[[ \t]*"?service"?[ \t]*\.[ \t]*"?api_keys"?[ \t]*\][ \t]*(#.*)?$',
                     re.M)


def add_api_key(path: Path, digest: str, scopes: Sequence[str]) -> None:
    """Authorise ``digest`` with ``scopes`` in the settings file ``path`` (created if missing);
    :class:`ConfigError` (and the file untouched) if it cannot be done safely."""
    from pricepilot.config import settings_from_dict

    text = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        before = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(_SETTING, f"{path} is not valid TOML ({e}); nothing written") from e
    keys = before.get("service", {}).get("api_keys", {})
    if digest in keys:
        raise ConfigError(_SETTING, f"{path} already lists this key")
    line = f"{json.dumps(digest)} = {json.dumps(list(scopes))}\n"
    header = _HEADER.search(text)
    if header is not None:
        at = header.end() + 1 if header.end() < len(text) else len(text)
        new = text[:at] + ("" if text[:at].endswith("\n") else "\n") + line + text[at:]
    elif "api_keys" in before.get("service", {}):
        raise ConfigError(_SETTING, f"{path} sets service.api_keys without a [service.api_keys] "
                                    "table (inline or as a dotted key); add the line "
                                    f"{line.strip()!r} there by hand")
    else:
        sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
        new = f"{text}{sep}[service.api_keys]\n{line}"
    want: dict[str, Any] = copy.deepcopy(before)
    want.setdefault("service", {}).setdefault("api_keys", {})[digest] = list(scopes)
    try:
        after = tomllib.loads(new)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(_SETTING, f"adding the key to {path} would break it ({e}); nothing "
                                    f"written: add {line.strip()!r} by hand") from e
    if after != want:
        raise ConfigError(_SETTING, f"adding the key to {path} would change other settings; "
                                    f"nothing written: add {line.strip()!r} by hand")
    settings_from_dict(after)  # the file must still load
    from pricepilot.fileio import atomic_write

    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
    atomic_write(path, new.encode("utf-8"))
    if mode is not None:
        os.chmod(path, mode)
