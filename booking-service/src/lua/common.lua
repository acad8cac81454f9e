-- Shared by every script (prepended at load time).
-- Key layout, all carrying the venue as a hash tag so one venue lives in one cluster slot:
--   seat:{v}:A1   the hold lock: "h|<user>|<expires_ms>" with EX, or "b|<user>" (booked, no TTL)
--   state:{v}     hash seat -> the announced state, same encoding; what snapshots are built from
--   holds:{v}     sorted set seat -> hold expiry in ms; the expiry index
--   holdcount:{v} hash user -> number of holds announced for that user
--   seq:{v}       the venue's change counter
local function parse_state(value)
  -- returns kind ('h' or 'b'), user, expires_ms (string, holds only)
  if not value then return nil end
  local kind, user, expires = string.match(value, '^(%a)|([^|]*)|?(%d*)$')
  return kind, user, expires
end

local function drop_hold(counts, user)
  if redis.call('HINCRBY', counts, user, -1) <= 0 then
    redis.call('HDEL', counts, user)
  end
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
