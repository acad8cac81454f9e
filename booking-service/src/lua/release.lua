-- Give back the caller's hold.
-- KEYS: lock, state, holds, counts, seq   ARGV: seat, user
local lock, state, holds, counts, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local seat, user = ARGV[1], ARGV[2]

local kind, holder = parse_state(redis.call('GET', lock))
if kind == 'b' then return {'SEAT_BOOKED', holder} end
if kind ~= 'h' or holder ~= user then return {'NOT_HOLDER', holder or ''} end

redis.call('DEL', lock)
redis.call('HDEL', state, seat)
redis.call('ZREM', holds, seat)
drop_hold(counts, user)
return {'CHANGED', user, '', tostring(redis.call('INCR', seq))}
