-- Hold a seat: SET NX EX on its lock, unless it is booked, held by another user, or the user
-- already has the maximum number of holds. Holding a seat you already hold changes nothing.
-- KEYS: lock, state, holds, counts, seq   ARGV: seat, user, hold_seconds, max_holds
local lock, state, holds, counts, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local seat, user = ARGV[1], ARGV[2]
local hold_seconds, max_holds = tonumber(ARGV[3]), tonumber(ARGV[4])

local kind, holder, expires = parse_state(redis.call('GET', lock))
if kind == 'b' then return {'SEAT_BOOKED', holder} end
if kind == 'h' then
  if holder == user then return {'UNCHANGED', holder, expires} end
  return {'SEAT_UNAVAILABLE', holder}
end

-- The lock is free. The announced state may still show a hold whose lock has run out but whose
-- expiry is not announced yet: this select takes the seat over from it.
local prev_kind, prev_holder = parse_state(redis.call('HGET', state, seat))
if prev_kind == 'b' then
  -- A booking never loses its lock; if it did, put it back rather than sell the seat twice.
  redis.call('SET', lock, 'b|' .. prev_holder)
  return {'SEAT_BOOKED', prev_holder}
end

local held = tonumber(redis.call('HGET', counts, user) or '0')
if prev_holder == user then held = held - 1 end
if held >= max_holds then return {'MAX_HOLDS_EXCEEDED', tostring(held)} end

local expires_ms = now_ms() + hold_seconds * 1000
local value = 'h|' .. user .. '|' .. expires_ms
if not redis.call('SET', lock, value, 'NX', 'EX', hold_seconds) then
  return {'SEAT_UNAVAILABLE', ''}
end
if prev_holder then drop_hold(counts, prev_holder) end
redis.call('HINCRBY', counts, user, 1)
redis.call('HSET', state, seat, value)
redis.call('ZADD', holds, expires_ms, seat)
return {'CHANGED', user, tostring(expires_ms), tostring(redis.call('INCR', seq))}
