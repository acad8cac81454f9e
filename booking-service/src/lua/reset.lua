-- Make every seat of a venue available again (demo reset). The seq keeps counting so viewers
-- see one numbered release per seat that changed.
-- KEYS: state, holds, counts, seq   ARGV: lock key prefix ("seat:{v}:")
-- returns {first_seq, seat1, user1, seat2, user2, ...}; first_seq is 0 when nothing changed
local state, holds, counts, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local prefix = ARGV[1]
local entries = redis.call('HGETALL', state)
local result = {'0'}
local changed = 0
for i = 1, #entries, 2 do
  local seat = entries[i]
  local _, user = parse_state(entries[i + 1])
  redis.call('DEL', prefix .. seat)
  table.insert(result, seat)
  table.insert(result, user or '')
  changed = changed + 1
end
redis.call('DEL', state, holds, counts)
if changed > 0 then
  local last = redis.call('INCRBY', seq, changed)
  result[1] = tostring(last - changed + 1)
end
return result
