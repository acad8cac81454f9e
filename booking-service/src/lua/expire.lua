-- Announce a hold that ran out. Acts only if the expiry index says this hold is due and its lock
-- is gone; a newer hold of the same seat has rewritten the index entry, so it is never touched.
-- KEYS: lock, state, holds, counts, seq, epoch, events, shoppers, booked_at, free, place
-- ARGV: seat, venue, max_len
local lock, state, holds, counts = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local out = {seq = KEYS[5], epoch = KEYS[6], events = KEYS[7], venue = ARGV[2], max_len = ARGV[3]}
local seat = ARGV[1]

local due = redis.call('ZSCORE', holds, seat)
if not due then return {'GONE'} end
local now = now_ms()
if tonumber(due) > now then return {'LATER', due} end
local ttl = redis.call('PTTL', lock)
if ttl > 0 then
  -- The lock's own EX ends a moment after the index time; come back then.
  return {'LATER', string.format('%d', now + ttl)}
end
redis.call('ZREM', holds, seat)
local kind, user_id, _, owner = split_state(redis.call('HGET', state, seat))
if ttl == -1 or kind ~= 'h' then
  -- Booked (a lock without TTL) or already gone: the index entry was stale.
  return {'GONE'}
end
redis.call('HDEL', state, seat)
drop_hold(counts, owner)
mark_seat({free = KEYS[10], place = KEYS[11]}, seat, false)
local seq = emit(out, 'released', seat, '0', user_id, nil, 'expired')
return {'CHANGED', user_id, '', seq}
