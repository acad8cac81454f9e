-- The relay's lease and cursor. One relay per venue publishes the outbox to NATS; the lease says
-- which. Takes or renews the lease for ARGV[1]; returns {1, published, epoch} when this relay
-- holds it, {0} otherwise.
-- KEYS: lease, published, epoch   ARGV: relay id, lease ms
local lease, published = KEYS[1], KEYS[2]
local me, ttl = ARGV[1], ARGV[2]
local holder = redis.call('GET', lease)
if holder and holder ~= me then return {0} end
redis.call('SET', lease, me, 'PX', ttl)
return {1, redis.call('GET', published) or '0', venue_epoch(KEYS[3])}
