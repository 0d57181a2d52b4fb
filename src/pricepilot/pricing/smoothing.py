"""Smoothing of the public base price: ``p_new = p_cur + α (p_opt − p_cur)``, vectorised.

A jumpy public price confuses shoppers and competitors; smoothing moves part of the way each
decision (α = 1 disables it). The daily change limit is a guardrail (:mod:`.guardrails`).

>>> import numpy as np
>>> smooth(np.array([1200]), 1000, 0.5).tolist()
[1100]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]


def smooth(p_opt: I64, p_cur: int | None, alpha: float) -> I64:
    if p_cur is None or alpha >= 1.0:
        return p_opt.astype(np.int64)
    return np.rint(p_cur + alpha * (p_opt.astype(np.float64) - p_cur)).astype(np.int64)
