-- Records that NATS has taken every event up to ARGV[2], if this relay still holds the lease and
-- the venue is still in the epoch those events belong to (a wiped Redis starts again at seq 1).
-- KEYS: lease, published, epoch   ARGV: relay id, seq, epoch
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('GET', KEYS[3]) ~= ARGV[3] then return 0 end
-- Only forward: a replay after a NATS reconnect publishes older events again.
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[2])
end
return 1
