-- pricepilot promotion ledger: atomic, idempotent redeem and release of one order.
-- KEYS[1]    the order hash (status, steps)
-- KEYS[2..]  one counter hash per step (fields: used, spent)
-- ARGV[1]    "redeem" or "release"
-- redeem:  ARGV[2] = steps as text (kept for release); then per step: uses, spend, max_uses, max_spend
--          (-1 = no limit). Returns {1, "redeemed"}, {0, previous status} on replay,
--          or {-1, counter key} when a limit would be exceeded (nothing is changed).
-- release: per step: uses, spend. Returns 1 when released, 0 when nothing to release.
local mode = ARGV[1]
local status = redis.call('HGET', KEYS[1], 'status')
if mode == 'redeem' then
  if status then
    return {0, status}
  end
  local n = #KEYS - 1
  for i = 1, n do
    local b = 3 + (i - 1) * 4
    local uses = tonumber(ARGV[b])
    local spend = tonumber(ARGV[b + 1])
    local max_uses = tonumber(ARGV[b + 2])
    local max_spend = tonumber(ARGV[b + 3])
    local used = tonumber(redis.call('HGET', KEYS[i + 1], 'used') or '0')
    local spent = tonumber(redis.call('HGET', KEYS[i + 1], 'spent') or '0')
    if max_uses >= 0 and used + uses > max_uses then
      return {-1, KEYS[i + 1]}
    end
    if max_spend >= 0 and spent + spend > max_spend then
      return {-1, KEYS[i + 1]}
    end
  end
  for i = 1, n do
    local b = 3 + (i - 1) * 4
    redis.call('HINCRBY', KEYS[i + 1], 'used', ARGV[b])
    redis.call('HINCRBY', KEYS[i + 1], 'spent', ARGV[b + 1])
  end
  redis.call('HSET', KEYS[1], 'status', 'redeemed', 'steps', ARGV[2])
  return {1, 'redeemed'}
elseif mode == 'release' then
  if status ~= 'redeemed' then
    return 0
  end
  local n = #KEYS - 1
  for i = 1, n do
    local b = 2 + (i - 1) * 2
    redis.call('HINCRBY', KEYS[i + 1], 'used', 0 - tonumber(ARGV[b]))
    redis.call('HINCRBY', KEYS[i + 1], 'spent', 0 - tonumber(ARGV[b + 1]))
  end
  redis.call('HSET', KEYS[1], 'status', 'released')
  return 1
end
return redis.error_reply('unknown mode ' .. tostring(mode))
