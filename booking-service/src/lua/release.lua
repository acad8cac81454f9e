-- Give back the caller's hold.
-- KEYS: lock, state, holds, counts, seq, epoch, events, shoppers, booked_at, free, place
-- ARGV: seat, owner, user_id, venue, max_len, waiting_room (1/0)
local lock, state, holds, counts = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local out = {seq = KEYS[5], epoch = KEYS[6], events = KEYS[7], venue = ARGV[4], max_len = ARGV[5]}
local seat, owner, user_id = ARGV[1], ARGV[2], ARGV[3]

local refused = refuse_unless_holder(lock, owner, KEYS[8], ARGV[6])
if refused then return refused end

redis.call('DEL', lock)
redis.call('HDEL', state, seat)
redis.call('ZREM', holds, seat)
drop_hold(counts, owner)
mark_seat({free = KEYS[10], place = KEYS[11]}, seat, false)
local seq = emit(out, 'released', seat, '0', user_id, nil, 'released')
return {'CHANGED', user_id, '', seq}
