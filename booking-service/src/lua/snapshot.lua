-- A consistent picture of a venue: its epoch, seq and every non-available seat, read in one step.
-- KEYS: state, seq, epoch   returns {epoch, seq, seat1, value1, seat2, value2, ...}
local result = redis.call('HGETALL', KEYS[1])
table.insert(result, 1, redis.call('GET', KEYS[2]) or '0')
table.insert(result, 1, venue_epoch(KEYS[3]))
return result
