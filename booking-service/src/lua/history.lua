-- Events after a seq, from the outbox, with the venue's epoch and current seq, read in one step.
-- KEYS: events, seq, epoch   ARGV: after, limit
-- returns {'OK', epoch, to, payload1, payload2, ...} or {'GONE', epoch, to}
local after, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local epoch = venue_epoch(KEYS[3])
local to = tonumber(redis.call('GET', KEYS[2]) or '0')
local to_text = string.format('%d', to)
if after > to then return {'GONE', epoch, to_text} end
if after < to then
  -- Everything from after+1 on must still be kept.
  local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
  if not oldest or tonumber(string.match(oldest[1], '^(%d+)')) > after + 1 then
    return {'GONE', epoch, to_text}
  end
end
local result = {'OK', epoch, to_text}
if limit > 0 and after < to then
  local entries = redis.call('XRANGE', KEYS[1], string.format('%d', after + 1) .. '-0', '+', 'COUNT', limit)
  for _, entry in ipairs(entries) do
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'p' then table.insert(result, fields[i + 1]) end
    end
  end
end
return result
