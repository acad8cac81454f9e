-- Identities seen with a socket (or an HTTP join): refresh their presence, put them in the
-- queue if asked and they have no place, admit while a slot is free, and tell where each stands.
-- KEYS: queue, queue_seq, joined, shoppers, presence, booked_at, admissions, counts, reports
-- ARGV: max_shoppers, shopping_ms, join (1/0), owner...
-- returns {report number, size, shoppers, admitted_waits_count, wait..., then per owner: kind, a, b}
local k = {queue = KEYS[1], seq = KEYS[2], joined = KEYS[3], shoppers = KEYS[4],
  presence = KEYS[5], booked_at = KEYS[6], admissions = KEYS[7], counts = KEYS[8],
  reports = KEYS[9]}
local max_shoppers, shopping_ms, joining = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1'
local now = now_ms()
for i = 4, #ARGV do
  redis.call('ZADD', k.presence, now, ARGV[i])
  if joining then join(k, now, ARGV[i]) end
end
local waits = admit(k, now, max_shoppers, shopping_ms)
local result = {report_number(k), tostring(redis.call('ZCARD', k.queue)), tostring(redis.call('ZCARD', k.shoppers)), tostring(#waits)}
for _, wait in ipairs(waits) do table.insert(result, wait) end
for i = 4, #ARGV do
  local s = standing(k, now, ARGV[i], max_shoppers, shopping_ms)
  table.insert(result, s[1]); table.insert(result, s[2] or ''); table.insert(result, s[3] or '')
end
return result
