-- The waiting room's clock, run every 200 ms by every booking service (it is idempotent):
-- frees the slots of shoppers whose pass ended, who have had no socket for a while, or who
-- booked and hold nothing; drops waiting places without a socket for a while; admits.
-- KEYS: queue, queue_seq, joined, shoppers, presence, booked_at, admissions, counts, reports
-- ARGV: max_shoppers, shopping_ms, shopper_idle_ms, waiting_idle_ms, done_grace_ms
-- returns {report number, size, shoppers, admitted_count, wait...}
local k = {queue = KEYS[1], seq = KEYS[2], joined = KEYS[3], shoppers = KEYS[4],
  presence = KEYS[5], booked_at = KEYS[6], admissions = KEYS[7], counts = KEYS[8],
  reports = KEYS[9]}
local max_shoppers, shopping_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
local shopper_idle, waiting_idle, done_grace = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_ms()

local shoppers = redis.call('ZRANGE', k.shoppers, 0, -1)
for _, owner in ipairs(shoppers) do
  local seen = tonumber(redis.call('ZSCORE', k.presence, owner) or '0')
  local booked = redis.call('ZSCORE', k.booked_at, owner)
  local holds = tonumber(redis.call('HGET', k.counts, owner) or '0')
  if seen < now - shopper_idle then
    redis.call('ZREM', k.shoppers, owner)
  elseif booked and holds == 0 and tonumber(booked) <= now - done_grace then
    redis.call('ZREM', k.shoppers, owner)
  end
end
local gone = redis.call('ZRANGEBYSCORE', k.presence, '-inf', now - waiting_idle)
for _, owner in ipairs(gone) do
  redis.call('ZREM', k.queue, owner)
  redis.call('HDEL', k.joined, owner)
  if not redis.call('ZSCORE', k.shoppers, owner) then redis.call('ZREM', k.presence, owner) end
end
local waits = admit(k, now, max_shoppers, shopping_ms)
local result = {report_number(k), tostring(redis.call('ZCARD', k.queue)), tostring(redis.call('ZCARD', k.shoppers)), tostring(#waits)}
for _, wait in ipairs(waits) do table.insert(result, wait) end
return result
