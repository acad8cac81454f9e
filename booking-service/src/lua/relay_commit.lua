-- Records that NATS has taken every event up to ARGV[2], unless another relay holds the lease, or
-- the venue is no longer in the epoch those events belong to (a wiped Redis starts again at seq 1).
-- A lease that lapsed while this relay was publishing (a round slower than the lease, on a busy
-- machine) and that nobody took meanwhile does not stop the record: the events were published,
-- and refusing would make the next round publish them all again.
-- KEYS: lease, published, epoch   ARGV: relay id, seq, epoch
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
if redis.call('GET', KEYS[3]) ~= ARGV[3] then return 0 end
-- Only forward: a replay after a NATS reconnect publishes older events again, and another relay
-- that held the lease meanwhile may have recorded further.
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[2])
end
return 1
