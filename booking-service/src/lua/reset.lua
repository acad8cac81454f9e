-- Make every seat of a venue available again (demo reset). The seq keeps counting so viewers
-- see one numbered release per seat that changed.
-- KEYS: state, holds, counts, seq, epoch, events, free, bestindex, then the lock key of every
--       seat of the venue
-- ARGV: venue, max_len, lock key prefix ("seat:{v}:")
-- returns {first_seq, seat1, user1, seat2, user2, ...}; first_seq is 0 when nothing changed
local state, holds, counts = KEYS[1], KEYS[2], KEYS[3]
local out = {seq = KEYS[4], epoch = KEYS[5], events = KEYS[6], venue = ARGV[1], max_len = ARGV[2]}
local prefix = ARGV[3]
-- Only declared keys are touched (Redis Cluster): index the lock keys by seat.
local declared = {}
for i = 9, #KEYS do declared[KEYS[i]] = true end
local entries = redis.call('HGETALL', state)
local result = {'0'}
for i = 1, #entries, 2 do
  local seat = entries[i]
  local _, user_id = split_state(entries[i + 1])
  local lock = prefix .. seat
  if declared[lock] then redis.call('DEL', lock) end
  redis.call('HDEL', state, seat)
  local seq = emit(out, 'released', seat, '0', user_id, nil, 'reset')
  if result[1] == '0' then result[1] = seq end
  table.insert(result, seat)
  table.insert(result, user_id or '')
end
redis.call('DEL', holds, counts)
-- Every seat is free now: best available rebuilds its index from state:{v} when next asked.
redis.call('DEL', KEYS[7], KEYS[8])
return result
