-- Hold a seat: SET NX EX on its lock, unless it is booked, held by another owner, or the owner
-- already has the maximum number of holds. Holding a seat you already hold changes nothing.
-- KEYS: lock, state, holds, counts, seq, epoch, events, shoppers, booked_at, free, place
-- ARGV: seat, owner, user_id, venue, max_len, waiting_room (1/0), hold_seconds, max_holds
local lock, state, holds, counts = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local out = {seq = KEYS[5], epoch = KEYS[6], events = KEYS[7], venue = ARGV[4], max_len = ARGV[5]}
local seat, owner, user_id = ARGV[1], ARGV[2], ARGV[3]
local hold_seconds, max_holds = tonumber(ARGV[7]), tonumber(ARGV[8])
if not admitted(KEYS[8], owner, ARGV[6]) then return {'NOT_ADMITTED'} end

local kind, holder, expires = split_lock(redis.call('GET', lock))
if kind == 'b' then return {'SEAT_BOOKED'} end
if kind == 'h' then
  if holder == owner then return {'UNCHANGED', user_id, expires} end
  return {'SEAT_UNAVAILABLE'}
end

-- The lock is free. The announced state may still show a hold whose lock has run out but whose
-- expiry is not announced yet: this select takes the seat over from it.
local prev_kind, _, _, prev_owner = split_state(redis.call('HGET', state, seat))
if prev_kind == 'b' then
  -- A booking never loses its lock; if it did, put it back rather than sell the seat twice.
  redis.call('SET', lock, 'b|' .. (prev_owner or ''))
  return {'SEAT_BOOKED'}
end

local held = tonumber(redis.call('HGET', counts, owner) or '0')
if prev_owner == owner then held = held - 1 end
if held >= max_holds then return {'MAX_HOLDS_EXCEEDED', tostring(held)} end

local expires_ms = string.format('%d', now_ms() + hold_seconds * 1000)
if not redis.call('SET', lock, 'h|' .. owner .. '|' .. expires_ms, 'NX', 'EX', hold_seconds) then
  return {'SEAT_UNAVAILABLE'}
end
if prev_owner then drop_hold(counts, prev_owner) end
redis.call('HINCRBY', counts, owner, 1)
redis.call('HSET', state, seat, 'h|' .. user_id .. '|' .. expires_ms .. '|' .. owner)
redis.call('ZADD', holds, expires_ms, seat)
mark_seat({free = KEYS[10], place = KEYS[11]}, seat, true)
local seq = emit(out, 'held', seat, '1', user_id, expires_ms, nil)
return {'CHANGED', user_id, expires_ms, seq}
