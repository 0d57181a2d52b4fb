"""Where the online feature state lives: in-process memory (default) or Redis.

Both implement :class:`FeatureBackend`, a small typed interface: apply the primitive updates of
a batch of events (atomically per event, skipping event ids already seen), read the hashes one
quote needs in one go, store shopper attributes, erase a shopper. The semantics of each
primitive are documented on :class:`pricepilot.features.state.Op`; a single conformance suite
(``tests/features/test_backends.py``) runs against both.

Seen-set (idempotency by ``event_id``): memory keeps the most recent ``seen_capacity`` ids
(oldest forgotten first); Redis keeps one key per id for ``seen_ttl_seconds`` (wall clock). An
event re-sent after its id left the set is counted again, so both bounds must exceed the bus's
redelivery horizon (defaults: 1 000 000 ids, 7 days).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, cast

import msgspec

from pricepilot.errors import Unavailable, ValidationError
from pricepilot.features.state import Op, Value, calendar_key, product_key, session_key, user_key

Hash = Mapping[str, Value]


class Snapshot(msgspec.Struct, frozen=True):
    """The state one quote reads: the shopper's hash, their session count, each product's hash
    and the holidays of the local day."""

    user: Hash
    session_views: int
    products: list[Hash]
    holidays: Hash


class FeatureBackend(Protocol):
    def apply(self, batch: Sequence[tuple[str, list[Op]]]) -> int:
        """Apply each (event_id, ops) unless the id was seen; returns how many were applied."""
        ...

    def read(self, user_id: str, session_id: str | None, product_ids: Sequence[str],
             day: str) -> Snapshot:
        ...

    def put_shopper(self, user_id: str, fields: Mapping[str, str]) -> None:
        ...

    def forget_user(self, user_id: str) -> int:
        """Erase the user's aggregates and attributes; returns how many keys were removed."""
        ...

    def close(self) -> None:
        ...


_EMPTY: dict[str, Value] = {}


class MemoryBackend:
    """Plain dicts in this process. One writer (the event consumer); readers in other threads
    get copies, so they never see a hash change under them."""

    def __init__(self, *, seen_capacity: int = 1_000_000, max_sessions: int = 32) -> None:
        if seen_capacity < 1:
            raise ValidationError("memory backend", "seen_capacity", "must be positive")
        self.seen_capacity = seen_capacity
        self.max_sessions = max_sessions
        self._h: dict[str, dict[str, Value]] = {}
        self._seen: dict[str, None] = {}

    def _apply_op(self, op: Op) -> None:
        h = self._h.get(op.key)
        if h is None:
            h = self._h[op.key] = {}
        kind = op.kind
        if kind == "ring":
            df = f"{op.field}d{op.day % op.slots}"
            slot = op.day % op.slots
            cur = h.get(df)
            if cur is None or op.day > int(cur):
                h[df] = op.day
                for m, a in op.amounts:
                    h[f"{op.field}{m}{slot}"] = a
            elif op.day == int(cur):
                for m, a in op.amounts:
                    f = f"{op.field}{m}{slot}"
                    h[f] = int(h.get(f, 0)) + a
        elif kind == "incr":
            h[op.field] = int(h.get(op.field, 0)) + int(op.amount)
        elif kind == "incrf":
            h[op.field] = float(h.get(op.field, 0.0)) + float(op.amount)
        elif kind == "max":
            cur = h.get(op.field)
            if cur is None or int(cur) < int(op.amount):
                h[op.field] = int(op.amount)
        elif kind == "min":
            cur = h.get(op.field)
            if cur is None or int(cur) > int(op.amount):
                h[op.field] = int(op.amount)
        elif kind == "latest":
            t, r = h.get(op.field + "t"), h.get(op.field + "r")
            if t is None or (op.ts, op.rank) > (int(t), float(r if r is not None else 0)):
                h[op.field + "t"] = op.ts
                h[op.field + "r"] = op.rank
                for f, v in op.values:
                    h[f] = v
        elif kind == "since":
            t = h.get(op.field + "t")
            if t is None or op.ts > int(t):
                f = op.field + "q"
                h[f] = int(h.get(f, 0)) + int(op.amount)
        elif kind == "sess":
            h[op.field] = int(h.get(op.field, 0)) + int(op.amount)
            if len(h) > self.max_sessions:
                h.pop(next(iter(h)))
        else:
            raise ValidationError("feature update", "kind", f"unknown primitive {kind!r}")

    def apply(self, batch: Sequence[tuple[str, list[Op]]]) -> int:
        applied = 0
        seen = self._seen
        for event_id, ops in batch:
            if event_id in seen:
                continue
            seen[event_id] = None
            if len(seen) > self.seen_capacity:
                del seen[next(iter(seen))]
            for op in ops:
                self._apply_op(op)
            applied += 1
        return applied

    def read(self, user_id: str, session_id: str | None, product_ids: Sequence[str],
             day: str) -> Snapshot:
        h = self._h
        sv = 0
        if session_id is not None:
            sv = int(h.get(session_key(user_id), _EMPTY).get(session_id, 0))
        # copies (atomic under the GIL), so a reader never iterates a hash a writer thread
        # is growing
        return Snapshot(
            user=dict(h.get(user_key(user_id), _EMPTY)),
            session_views=sv,
            products=[dict(h.get(product_key(p), _EMPTY)) for p in product_ids],
            holidays=dict(h.get(calendar_key(day), _EMPTY)),
        )

    def put_shopper(self, user_id: str, fields: Mapping[str, str]) -> None:
        h = self._h.setdefault(user_key(user_id), {})
        for k in [k for k in h if k.startswith("a|")]:
            del h[k]
        h.update(fields)

    def forget_user(self, user_id: str) -> int:
        return sum(self._h.pop(k, None) is not None
                   for k in (user_key(user_id), session_key(user_id)))

    def close(self) -> None:
        pass


# One event, atomically: check-and-set the seen key, then every primitive. ARGV: seen ttl, then
# per op: kind, key index (into KEYS), and the kind's arguments (see _encode).
_LUA = """
local ttl = tonumber(ARGV[1])
if ttl > 0 then
  if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ttl) then return 0 end
end
local i = 2
local n = #ARGV
while i <= n do
  local kind = ARGV[i]
  local key = KEYS[tonumber(ARGV[i + 1])]
  local field = ARGV[i + 2]
  if kind == 'incr' or kind == 'sess' then
    redis.call('HINCRBY', key, field, ARGV[i + 3])
    if kind == 'sess' then redis.call('EXPIRE', key, ARGV[i + 4]) end
    i = i + 5
  elseif kind == 'incrf' then
    redis.call('HINCRBYFLOAT', key, field, ARGV[i + 3])
    i = i + 4
  elseif kind == 'max' or kind == 'min' then
    local cur = redis.call('HGET', key, field)
    local v = tonumber(ARGV[i + 3])
    if (not cur) or (kind == 'max' and tonumber(cur) < v)
       or (kind == 'min' and tonumber(cur) > v) then
      redis.call('HSET', key, field, ARGV[i + 3])
    end
    i = i + 4
  elseif kind == 'ring' then
    local day = tonumber(ARGV[i + 3])
    local slot = day % tonumber(ARGV[i + 4])
    local m = tonumber(ARGV[i + 5])
    local df = field .. 'd' .. slot
    local cur = redis.call('HGET', key, df)
    cur = cur and tonumber(cur)
    if (not cur) or day > cur then
      redis.call('HSET', key, df, day)
      for j = 0, m - 1 do
        redis.call('HSET', key, field .. ARGV[i + 6 + 2 * j] .. slot, ARGV[i + 7 + 2 * j])
      end
    elseif day == cur then
      for j = 0, m - 1 do
        redis.call('HINCRBY', key, field .. ARGV[i + 6 + 2 * j] .. slot, ARGV[i + 7 + 2 * j])
      end
    end
    i = i + 6 + 2 * m
  elseif kind == 'since' then
    local t = redis.call('HGET', key, field .. 't')
    if (not t) or tonumber(ARGV[i + 4]) > tonumber(t) then
      redis.call('HINCRBY', key, field .. 'q', ARGV[i + 3])
    end
    i = i + 5
  elseif kind == 'latest' then
    local ts = tonumber(ARGV[i + 3])
    local rank = tonumber(ARGV[i + 4])
    local m = tonumber(ARGV[i + 5])
    local cur = redis.call('HMGET', key, field .. 't', field .. 'r')
    local ct = cur[1] and tonumber(cur[1])
    local cr = cur[2] and tonumber(cur[2]) or 0
    if (not ct) or ts > ct or (ts == ct and rank > cr) then
      redis.call('HSET', key, field .. 't', ARGV[i + 3], field .. 'r', ARGV[i + 4])
      for j = 0, m - 1 do
        redis.call('HSET', key, ARGV[i + 6 + 2 * j], ARGV[i + 7 + 2 * j])
      end
    end
    i = i + 6 + 2 * m
  else
    return redis.error_reply('unknown primitive ' .. kind)
  end
end
return 1
"""


def _fmt(v: Value | float) -> str:
    if isinstance(v, float):
        return repr(v) if not v.is_integer() else str(int(v))
    return str(v)


class RedisBackend:
    """One hash per shopper, product and calendar day under ``prefix``; Lua for atomic updates;
    pipelined reads (one round trip per quote, whatever the number of products)."""

    def __init__(self, url: str, *, prefix: str = "pp:", seen_ttl_seconds: int = 7 * 86_400,
                 session_ttl_seconds: int = 86_400, batch_size: int = 1_000,
                 client: Any = None) -> None:
        import redis

        if seen_ttl_seconds < 1:
            raise ValidationError("redis backend", "seen_ttl_seconds", "must be positive")
        if session_ttl_seconds < 1:
            raise ValidationError("redis backend", "session_ttl_seconds", "must be positive")
        self.prefix = prefix
        self.seen_ttl_seconds = seen_ttl_seconds
        self.session_ttl_seconds = session_ttl_seconds
        self.batch_size = batch_size
        self._r = client or redis.Redis.from_url(url, decode_responses=True)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        try:
            self._script = self._r.register_script(_LUA)
        except self._errors as e:
            raise Unavailable("redis", str(e)) from e

    def _encode(self, event_id: str, ops: list[Op]) -> tuple[list[str], list[str]]:
        keys = [f"{self.prefix}seen:{event_id}"]
        index: dict[str, int] = {}
        args = [str(self.seen_ttl_seconds)]
        for op in ops:
            k = index.get(op.key)
            if k is None:
                keys.append(self.prefix + op.key)
                k = index[op.key] = len(keys)
            head = [op.kind, str(k), op.field]
            if op.kind == "incr":
                args += [*head, str(int(op.amount)), "0"]
            elif op.kind == "sess":
                args += [*head, str(int(op.amount)), str(self.session_ttl_seconds)]
            elif op.kind == "incrf":
                args += [*head, repr(float(op.amount))]
            elif op.kind in ("max", "min"):
                args += [*head, str(int(op.amount))]
            elif op.kind == "since":
                args += [*head, str(int(op.amount)), str(op.ts)]
            elif op.kind == "ring":
                args += [*head, str(op.day), str(op.slots), str(len(op.amounts))]
                for m, a in op.amounts:
                    args += [m, str(a)]
            elif op.kind == "latest":
                args += [*head, str(op.ts), _fmt(op.rank), str(len(op.values))]
                for f, v in op.values:
                    args += [f, _fmt(v)]
            else:
                raise ValidationError("feature update", "kind", f"unknown primitive {op.kind!r}")
        return keys, args

    def apply(self, batch: Sequence[tuple[str, list[Op]]]) -> int:
        applied = 0
        try:
            for start in range(0, len(batch), self.batch_size):
                pipe = self._r.pipeline(transaction=False)
                for event_id, ops in batch[start:start + self.batch_size]:
                    keys, args = self._encode(event_id, ops)
                    self._script(keys=keys, args=args, client=pipe)
                applied += sum(int(x) for x in pipe.execute())
        except self._errors as e:
            raise Unavailable("redis", str(e)) from e
        return applied

    def read(self, user_id: str, session_id: str | None, product_ids: Sequence[str],
             day: str) -> Snapshot:
        p = self.prefix
        try:
            pipe = self._r.pipeline(transaction=False)
            pipe.hgetall(p + user_key(user_id))
            if session_id is not None:
                pipe.hget(p + session_key(user_id), session_id)
            for pid in product_ids:
                pipe.hgetall(p + product_key(pid))
            pipe.hgetall(p + calendar_key(day))
            res = pipe.execute()
        except self._errors as e:
            raise Unavailable("redis", str(e)) from e
        user = res[0]
        i = 1
        sv = 0
        if session_id is not None:
            sv = int(res[1] or 0)
            i = 2
        return Snapshot(user=user, session_views=sv, products=res[i:i + len(product_ids)],
                        holidays=res[-1])

    def put_shopper(self, user_id: str, fields: Mapping[str, str]) -> None:
        key = self.prefix + user_key(user_id)
        try:
            # decode_responses=True: field names come back as str, never bytes
            old = [f for f in cast("list[str]", self._r.hkeys(key)) if f.startswith("a|")]
            pipe = self._r.pipeline(transaction=True)
            if old:
                pipe.hdel(key, *old)
            if fields:
                # built in place, so it takes redis' wider key and value types (dict is invariant)
                pipe.hset(key, mapping={f: v for f, v in fields.items()})
            pipe.execute()
        except self._errors as e:
            raise Unavailable("redis", str(e)) from e

    def forget_user(self, user_id: str) -> int:
        try:
            return int(self._r.delete(self.prefix + user_key(user_id),
                                      self.prefix + session_key(user_id)))
        except self._errors as e:
            raise Unavailable("redis", str(e)) from e

    def close(self) -> None:
        self._r.close()
