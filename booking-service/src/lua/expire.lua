-- Announce a hold that ran out. Acts only if the expiry index says this hold is due and its lock
-- is gone; a newer hold of the same seat has rewritten the index entry, so it is never touched.
-- KEYS: lock, state, holds, counts, seq   ARGV: seat
local lock, state, holds, counts, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local seat = ARGV[1]

local due = redis.call('ZSCORE', holds, seat)
if not due then return {'GONE'} end
local now = now_ms()
if tonumber(due) > now then return {'LATER', due} end
local ttl = redis.call('PTTL', lock)
if ttl > 0 then
  -- The lock's own EX ends a moment after the index time; come back then.
  return {'LATER', tostring(now + ttl)}
end
redis.call('ZREM', holds, seat)
local kind, holder = parse_state(redis.call('HGET', state, seat))
if ttl == -1 or kind ~= 'h' then
  -- Booked (a lock without TTL) or already gone: the index entry was stale.
  return {'GONE'}
end
redis.call('HDEL', state, seat)
drop_hold(counts, holder)
return {'CHANGED', holder, '', tostring(redis.call('INCR', seq))}
