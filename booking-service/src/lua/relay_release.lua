-- Gives the relay lease back on a clean shutdown, so another relay takes over at once.
-- KEYS: lease   ARGV: relay id
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
