"""Features: point-in-time training sets (DuckDB) and the online feature state (memory; Redis).

See ``docs/features.md`` for every feature's definition, the windows and the attribution rule.
"""

from __future__ import annotations

from pricepilot.features.backends import FeatureBackend, MemoryBackend, RedisBackend
from pricepilot.features.online import OnlineFeatures, open_online_features, replay_views
from pricepilot.features.training import OUTPUT_COLUMNS, build_training_set, time_split

__all__ = [
    "OUTPUT_COLUMNS",
    "FeatureBackend",
    "MemoryBackend",
    "OnlineFeatures",
    "RedisBackend",
    "build_training_set",
    "open_online_features",
    "replay_views",
    "time_split",
]
