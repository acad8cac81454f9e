-- The waiting room (prepended to the waiting-room scripts after common.lua). Keys, all per venue:
--   queue:{v}         sorted set owner -> arrival number: who waits, in arrival order
--   queue_seq:{v}     the arrival counter
--   queue_joined:{v}  hash owner -> unix ms of joining (for the wait-time histogram)
--   shoppers:{v}      sorted set owner -> unix ms the pass ends: who may hold and book
--   presence:{v}      sorted set owner -> unix ms last seen with a socket (or an HTTP join)
--   booked_at:{v}     sorted set owner -> unix ms of the owner's last booking
--   admissions:{v}    sorted set owner -> unix ms admitted (the last 5 minutes: the rate)
--   queue_reports:{v} the number of the last report (see `report_number`)
-- k: {queue, seq, joined, shoppers, presence, booked_at, admissions, counts, reports}

local RATE_WINDOW_MS = 300000

-- The number of this script's report, taken in the same atomic step as the sizes it reports:
-- replies that reach a service out of order (two presence reports in flight, the clock beside
-- them) are put back in Redis's order by it, so the service's gauges keep the newest sizes and
-- never an older count. A counter that does not exist yet (a new venue, or a Redis that lost its
-- data) starts at the Redis clock in microseconds, above any number handed out before.
local function report_number(k)
  local n = redis.call('INCR', k.reports)
  if n == 1 then
    local t = redis.call('TIME')
    n = tonumber(t[1]) * 1000000 + tonumber(t[2])
    redis.call('SET', k.reports, string.format('%d', n))
  end
  return string.format('%d', n)
end

-- Ends passes that ran out, then admits the head of the queue while a slot is free.
-- Returns the waits (ms) of those admitted.
local function admit(k, now, max_shoppers, shopping_ms)
  redis.call('ZREMRANGEBYSCORE', k.shoppers, '-inf', now)
  local waits = {}
  while redis.call('ZCARD', k.shoppers) < max_shoppers do
    local head = redis.call('ZRANGE', k.queue, 0, 0)[1]
    if not head then break end
    redis.call('ZREM', k.queue, head)
    redis.call('ZADD', k.shoppers, now + shopping_ms, head)
    local joined = tonumber(redis.call('HGET', k.joined, head) or now)
    redis.call('HDEL', k.joined, head)
    redis.call('ZADD', k.admissions, now, head)
    redis.call('ZREM', k.booked_at, head)
    table.insert(waits, string.format('%d', now - joined))
  end
  return waits
end

-- The admissions of the last 5 minutes, {count, first_ms}: read once per script run (every
-- standing is asked after `admit`, so they do not change in between).
local recent_admissions
local function admission_rate(k, now)
  if not recent_admissions then
    redis.call('ZREMRANGEBYSCORE', k.admissions, '-inf', now - RATE_WINDOW_MS)
    local count = redis.call('ZCARD', k.admissions)
    local first = now
    if count > 0 then
      first = tonumber(redis.call('ZRANGE', k.admissions, 0, 0, 'WITHSCORES')[2])
    end
    recent_admissions = {count = count, first = first}
  end
  return recent_admissions
end

-- Seconds until `position` is admitted, from the admissions of the last 5 minutes (or, with
-- none yet, as if every pass ran its full length).
local function estimated_wait_s(k, now, position, max_shoppers, shopping_ms)
  local rate = admission_rate(k, now)
  if rate.count > 0 then
    local span_s = math.max(60, (now - rate.first) / 1000)
    return math.ceil(position * span_s / rate.count)
  end
  return math.ceil(position / max_shoppers) * math.floor(shopping_ms / 1000)
end

-- Where one owner stands: {'A', until_ms} | {'W', position, estimate} | {'N'}.
local function standing(k, now, owner, max_shoppers, shopping_ms)
  local pass = redis.call('ZSCORE', k.shoppers, owner)
  if pass and tonumber(pass) > now then return {'A', pass} end
  local rank = redis.call('ZRANK', k.queue, owner)
  if rank then
    return {'W', tostring(rank + 1), tostring(estimated_wait_s(k, now, rank + 1, max_shoppers, shopping_ms))}
  end
  return {'N'}
end

local function join(k, now, owner)
  if redis.call('ZSCORE', k.shoppers, owner) then return end
  if redis.call('ZSCORE', k.queue, owner) then return end
  redis.call('ZADD', k.queue, redis.call('INCR', k.seq), owner)
  redis.call('HSET', k.joined, owner, now)
end
