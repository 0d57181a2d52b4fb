"""Redemption ledger on Redis for multi-instance deployments: one Lua script (``ledger.lua``,
shipped in the package) checks and consumes every limit of an order atomically, idempotent per
order id, and releases it again. Every key the script touches is passed in ``KEYS``.

Keys: ``{prefix}order:{order_id}`` (status + the steps taken, for release) and
``{prefix}ctr:{counter}`` (used, spent) with the counter names of :mod:`ledger`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from importlib.resources import files

import redis

from pricepilot.errors import Conflict, Unavailable
from pricepilot.promotions.cart import Usage
from pricepilot.promotions.ledger import LimitBook, RedeemResult, Redemption, usage_from_counters
from pricepilot.promotions.model import Promotion

SCRIPT = files("pricepilot.promotions").joinpath("ledger.lua").read_text(encoding="utf-8")


class RedisLedger:
    def __init__(self, client: redis.Redis, *, prefix: str = "pp:promo:", promotions: Iterable[Promotion] = ()) -> None:
        self.r = client
        self.prefix = prefix
        self.script = client.register_script(SCRIPT)
        self.limits = LimitBook()
        self.limits.configure(promotions)

    @classmethod
    def from_url(cls, url: str, **kw: object) -> RedisLedger:
        return cls(redis.Redis.from_url(url), **kw)  # type: ignore[arg-type]

    def configure(self, promotions: Iterable[Promotion]) -> None:
        self.limits.configure(promotions)

    def _order_key(self, order_id: str) -> str:
        return f"{self.prefix}order:{order_id}"

    def redeem(self, order_id: str, redemptions: Sequence[Redemption]) -> RedeemResult:
        if len({r.promotion_id for r in redemptions}) != len(redemptions):
            raise ValueError("one redemption per promotion and order")
        steps = [s for r in redemptions for s in self.limits.steps(r)]
        ids = sorted(r.promotion_id for r in redemptions)
        record = json.dumps({"ids": ids, "steps": [[s.key, s.uses, s.spend] for s in steps]})
        args: list[str | int] = ["redeem", record]
        for s in steps:
            args += [s.uses, s.spend, -1 if s.max_uses is None else s.max_uses,
                     -1 if s.max_spend is None else s.max_spend]
        keys = [self._order_key(order_id)] + [f"{self.prefix}ctr:{s.key}" for s in steps]
        try:
            code, detail = self.script(keys=keys, args=args)
        except redis.RedisError as e:
            raise Unavailable("redis promotion ledger", str(e)) from e
        detail = detail.decode() if isinstance(detail, bytes) else str(detail)
        if code == 1:
            return RedeemResult(order_id=order_id, status="redeemed", promotion_ids=ids)
        if code == 0:
            prior = self.r.hget(self._order_key(order_id), "steps")
            prior_ids = json.loads(prior)["ids"] if prior else []
            return RedeemResult(order_id=order_id, status="released" if detail == "released" else "replayed",
                                promotion_ids=prior_ids)
        key = detail[len(self.prefix) + 4:]
        step = next(s for s in steps if s.key == key)
        raise Conflict("promotion", step.promotion_id, f"{step.what} reached")

    def release(self, order_id: str) -> bool:
        okey = self._order_key(order_id)
        raw = self.r.hget(okey, "steps")
        if raw is None:
            return False
        steps = json.loads(raw)["steps"]
        args: list[str | int] = ["release"]
        for _key, uses, spend in steps:
            args += [uses, spend]
        try:
            return bool(self.script(keys=[okey] + [f"{self.prefix}ctr:{k}" for k, _, _ in steps], args=args))
        except redis.RedisError as e:
            raise Unavailable("redis promotion ledger", str(e)) from e

    def erase_customer(self, customer_id: str) -> dict[str, int]:
        """Delete the customer's per-customer counters (``ctr:pc:<promotion>:<customer>``,
        ``ctr:cc:<code>:<customer>``) and drop them from its orders' release records (so a later
        cancellation gives back the promotion-wide counts only): afterwards no key, field or
        value under the prefix carries ``customer_id``. The only keys the ledger writes are the
        counters and the order hashes (status, steps), so scanning both covers everything."""
        suffix = f":{customer_id}"
        glob = _glob_escape(suffix)
        try:
            counters = [k for k in self.r.scan_iter(match=f"{_glob_escape(self.prefix)}ctr:*{glob}",
                                                    count=1000) if _text(k).endswith(suffix)]
            deleted = int(self.r.delete(*counters)) if counters else 0
            orders = 0
            for key in self.r.scan_iter(match=f"{_glob_escape(self.prefix)}order:*", count=1000):
                raw = self.r.hget(key, "steps")
                if raw is None or customer_id not in _text(raw):
                    continue
                record = json.loads(raw)
                record["steps"] = [st for st in record["steps"] if not str(st[0]).endswith(suffix)]
                self.r.hset(key, "steps", json.dumps(record))
                orders += 1
        except redis.RedisError as e:
            raise Unavailable("redis promotion ledger", str(e)) from e
        return {"ledger_orders": orders, "ledger_counters": deleted}

    def usage(self, customer_id: str | None = None) -> Usage:
        counters: dict[str, tuple[int, int]] = {}
        start = len(self.prefix) + 4
        for key in self.r.scan_iter(match=f"{self.prefix}ctr:*", count=1000):
            h = self.r.hgetall(key)
            k = key.decode() if isinstance(key, bytes) else key
            counters[k[start:]] = (int(h.get(b"used", 0)), int(h.get(b"spent", 0)))
        return usage_from_counters(counters, customer_id)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _glob_escape(text: str) -> str:
    """``text`` matched literally by a Redis ``SCAN MATCH`` glob."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
