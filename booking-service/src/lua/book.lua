-- Turn the caller's hold into a permanent booking (the lock loses its TTL).
-- KEYS: lock, state, holds, counts, seq   ARGV: seat, user
local lock, state, holds, counts, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local seat, user = ARGV[1], ARGV[2]

local kind, holder = parse_state(redis.call('GET', lock))
if kind == 'b' then return {'SEAT_BOOKED', holder} end
if kind ~= 'h' or holder ~= user then return {'NOT_HOLDER', holder or ''} end

local value = 'b|' .. user
redis.call('SET', lock, value)
redis.call('HSET', state, seat, value)
redis.call('ZREM', holds, seat)
drop_hold(counts, user)
return {'CHANGED', user, '', tostring(redis.call('INCR', seq))}
