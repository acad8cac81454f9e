-- Turn the caller's hold into a permanent booking (the lock loses its TTL).
-- KEYS: lock, state, holds, counts, seq, epoch, events   ARGV: seat, owner, user_id, venue, max_len
local lock, state, holds, counts = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local out = {seq = KEYS[5], epoch = KEYS[6], events = KEYS[7], venue = ARGV[4], max_len = ARGV[5]}
local seat, owner, user_id = ARGV[1], ARGV[2], ARGV[3]

local kind, holder = split_lock(redis.call('GET', lock))
if kind == 'b' then return {'SEAT_BOOKED'} end
if kind ~= 'h' then return {'NOT_HOLDER', ''} end
if holder ~= owner then return {'NOT_HOLDER', 'other'} end

redis.call('SET', lock, 'b|' .. owner)
redis.call('HSET', state, seat, 'b|' .. user_id .. '||' .. owner)
redis.call('ZREM', holds, seat)
drop_hold(counts, owner)
local seq = emit(out, 'booked', seat, '2', user_id, nil, nil)
return {'CHANGED', user_id, '', seq}
