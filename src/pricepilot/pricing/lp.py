"""The inventory LP of Ferreira, Simchi-Levi & Wang's TS-update, and drawing from its mixture.

Each decision solves, for sampled demand ``d`` (per candidate price and product),

    max  sum_k r_k x_k   s.t.  sum_k A d_k x_k <= c(t),  sum_k x_k <= 1,  x >= 0

where ``r_k`` is the expected reward per arrival at price (vector) ``k`` and ``c(t)`` the
remaining stock per remaining period. The leftover ``1 - sum x`` is the "shut-off" price.

Three solvers, one LP:

* :func:`solve_lp` — the general form with SciPy's HiGHS (``linprog(method="highs")``);
* :func:`solve_single_resource` — one resource (one product with finite stock), batched over many
  posterior draws at once. With two constraints every vertex has at most two non-zero prices, so
  enumerating single prices and price pairs is exact (checked against HiGHS in the tests) and
  costs microseconds instead of a solver call;
* :func:`solve_small_lp_batch` — small multi-resource LPs (a handful of price vectors) batched over
  many independent problems by vertex enumeration; exact, checked against HiGHS; used where one
  LP per simulated shop per period would make a solver call per LP too slow (benchmark B2).

>>> import numpy as np
>>> p = np.array([29.9, 34.9, 39.9, 44.9]); d = np.array([0.8, 0.6, 0.3, 0.1])
>>> x, v = solve_single_resource((p * d)[None], d[None], np.array([0.25]))
>>> round(float(v[0]), 2)
10.1
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations

import numpy as np
import numpy.typing as npt
from scipy.optimize import linprog

from pricepilot.errors import Unavailable, ValidationError

F = npt.NDArray[np.float64]
_TOL = 1e-9


def solve_lp(rewards: F, consumption: F, capacity: F) -> tuple[F, float]:
    """General TS-update LP with HiGHS.

    ``rewards`` (K,), ``consumption`` (R, K) expected resource use per arrival at each price,
    ``capacity`` (R,) per period. Returns (x (K,), optimal value).

    >>> import numpy as np
    >>> x, v = solve_lp(np.array([3.0, 2.0]), np.array([[1.0, 0.5]]), np.array([0.5]))
    >>> round(v, 6), [round(float(a), 6) for a in x]
    (2.0, [0.0, 1.0])
    """
    for name, arr in (("rewards", rewards), ("consumption", consumption), ("capacity", capacity)):
        if not np.all(np.isfinite(arr)):
            raise ValidationError("pricing LP", name, "must be finite numbers")
    k = rewards.shape[0]
    a_ub = np.vstack([consumption, np.ones((1, k))])
    b_ub = np.concatenate([np.maximum(capacity, 0.0), [1.0]])
    res = linprog(-rewards, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    if res.status != 0:
        raise Unavailable("LP solver", f"HiGHS did not solve the pricing LP: {res.message}")
    x = np.clip(res.x, 0.0, None)
    return x, float(-res.fun)


@lru_cache(maxsize=64)
def _pairs(k: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    ii, jj = np.triu_indices(k, 1)
    return ii, jj


def solve_single_resource(rewards: F, demand: F, capacity: F) -> tuple[F, F]:
    """Exact batched LP for one resource: ``max r·x s.t. d·x <= c, sum x <= 1, x >= 0``.

    ``rewards`` and ``demand`` are (B, K), ``capacity`` (B,). Returns x (B, K) and values (B,).
    Vertices of this polytope have at most two non-zero coordinates: a single price at full rate
    (if its demand fits), a single price rationed to ``c / d_k``, or two prices mixed so that
    both constraints bind. All are enumerated vectorised and the best one kept.
    """
    r = np.asarray(rewards, dtype=np.float64)
    d = np.asarray(demand, dtype=np.float64)
    c = np.maximum(np.asarray(capacity, dtype=np.float64), 0.0)[:, None]
    b, k = r.shape
    # singles: x_k = min(1, c / d_k)
    # a Beta draw can be subnormal (1e-310): c / d overflows where the ratio is not used
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        w_single = np.where(d > c, c / np.where(d > 0, d, 1.0), 1.0)
    v_single = np.where(r > 0, r * w_single, 0.0)
    best_single = np.argmax(v_single, axis=1)
    best_v = v_single[np.arange(b), best_single]
    x = np.zeros((b, k))
    x[np.arange(b), best_single] = np.where(best_v > 0, w_single[np.arange(b), best_single], 0.0)
    if k >= 2:
        ii, jj = _pairs(k)
        di, dj = d[:, ii], d[:, jj]
        lo_d = np.minimum(di, dj)
        hi_d = np.maximum(di, dj)
        valid = (lo_d < c) & (c < hi_d)
        span = np.where(valid, dj - di, 1.0)
        wj = np.where(valid, (c - di) / span, 0.0)
        wi = 1.0 - wj
        v_pair = np.where(valid, wi * r[:, ii] + wj * r[:, jj], -np.inf)
        best_pair = np.argmax(v_pair, axis=1)
        vp = v_pair[np.arange(b), best_pair]
        use = vp > best_v + _TOL
        if use.any():
            rows = np.nonzero(use)[0]
            bp = best_pair[rows]
            x[rows] = 0.0
            x[rows, ii[bp]] = wi[rows, bp]
            x[rows, jj[bp]] = wj[rows, bp]
            best_v = np.where(use, vp, best_v)
    return x, np.maximum(best_v, 0.0)


def _vertex_bases(k: int, r: int) -> npt.NDArray[np.int64]:
    """Every choice of ``k`` active rows among the ``r + 1 + k`` inequalities."""
    return np.array(list(combinations(range(r + 1 + k), k)), dtype=np.int64)


def solve_small_lp_batch(
    rewards: F, consumption: F, capacity: F, warm: npt.NDArray[np.int64] | None = None
) -> tuple[F, F, npt.NDArray[np.int64]]:
    """Exact batched LP ``max r·x s.t. C x <= c, sum x <= 1, x >= 0`` by vertex enumeration.

    ``rewards`` (B, K), ``consumption`` (B, R, K), ``capacity`` (B, R). Meant for small K and R
    (C(R+1+K, K) bases; 126 for five price vectors and three resources). Returns x, values and
    the optimal basis of each problem. ``warm`` (a pool of basis indices, e.g. every basis that
    was optimal in earlier periods) is checked first with the KKT conditions (primal feasible,
    duals >= 0); only problems none of them solves are enumerated, which makes a TS-update
    simulation several times faster. The result is the same optimum either way.
    """
    rw = np.asarray(rewards, dtype=np.float64)
    cons = np.asarray(consumption, dtype=np.float64)
    cap = np.maximum(np.asarray(capacity, dtype=np.float64), 0.0)
    b, k = rw.shape
    r = cons.shape[1]
    g = np.concatenate([cons, np.ones((b, 1, k)), np.broadcast_to(-np.eye(k), (b, k, k))], axis=1)
    h = np.concatenate([cap, np.ones((b, 1)), np.zeros((b, k))], axis=1)
    bases = _vertex_bases(k, r)  # (V, K)
    x = np.zeros((b, k))
    v = np.zeros(b)
    basis = np.zeros(b, dtype=np.int64)
    todo = np.ones(b, dtype=bool)
    if warm is not None and len(warm):
        pool = np.unique(np.asarray(warm, dtype=np.int64))
        gb = g[:, bases[pool], :]  # (B, P, K, K)
        hb = h[:, bases[pool]]  # (B, P, K)
        det = np.linalg.det(gb)
        ok = np.abs(det) > 1e-12
        safe = np.where(ok[..., None, None], gb, np.eye(k))
        xw = np.linalg.solve(safe, hb[..., None])[..., 0]  # (B, P, K)
        yw = np.linalg.solve(np.swapaxes(safe, -1, -2),
                             np.broadcast_to(rw[:, None, :, None], xw.shape + (1,)))[..., 0]
        slack = np.einsum("bmk,bpk->bpm", g, xw) - h[:, None, :]
        good = (ok & np.all(slack <= 1e-9 * (1.0 + np.abs(h[:, None, :])), axis=2)
                & np.all(yw >= -1e-12, axis=2))  # KKT: this basis is optimal
        hit = good.any(axis=1)
        first = np.argmax(good, axis=1)
        rows = np.nonzero(hit)[0]
        xh = xw[rows, first[rows]]
        x[rows] = np.clip(xh, 0.0, None)
        v[rows] = np.einsum("bk,bk->b", xh, rw[rows])
        basis[rows] = pool[first[rows]]
        todo = ~hit
    if todo.any():
        gt, ht, rt = g[todo], h[todo], rw[todo]
        gm = gt[:, bases, :]  # (T, V, K, K)
        hm = ht[:, bases]  # (T, V, K)
        det = np.linalg.det(gm)
        ok = np.abs(det) > 1e-12
        safe = np.where(ok[..., None, None], gm, np.eye(k))
        xs = np.linalg.solve(safe, hm[..., None])[..., 0]  # (T, V, K)
        slack = np.einsum("bmk,bvk->bvm", gt, xs) - ht[:, None, :]
        feas = ok & np.all(slack <= 1e-9 * (1.0 + np.abs(ht[:, None, :])), axis=2)
        vals = np.where(feas, np.einsum("bvk,bk->bv", xs, rt), -np.inf)
        best = np.argmax(vals, axis=1)
        n = best.shape[0]
        vt = vals[np.arange(n), best]
        xt = np.clip(xs[np.arange(n), best], 0.0, None)
        # x = 0 is always feasible, so some vertex is; guard against numerical loss anyway
        bad = ~np.isfinite(vt)
        xt[bad] = 0.0
        x[todo] = xt
        v[todo] = np.where(bad, 0.0, vt)
        basis[todo] = best
    return x, v, basis


def draw_from_mixture(x: F, u: F) -> npt.NDArray[np.int64]:
    """Index drawn from each row's mixture ``x`` with uniforms ``u``; ``K`` means shut-off."""
    cum = np.cumsum(x, axis=1)
    return np.asarray(np.sum(cum <= u[:, None], axis=1), dtype=np.int64)
