-- Shared by every script (prepended at load time).
-- Key layout, all carrying the venue as a hash tag so one venue lives in one cluster slot:
--   seat:{v}:A1    the hold lock: "h|<owner>|<expires_ms>" with EX, or "b|<owner>" (booked, no TTL)
--   state:{v}      hash seat -> the announced state "<kind>|<user_id>|<expires_ms>|<owner>";
--                  what snapshots are built from
--   holds:{v}      sorted set seat -> hold expiry in ms; the expiry index
--   holdcount:{v}  hash owner -> number of holds announced for that owner
--   seq:{v}        the venue's change counter
--   epoch:{v}      the venue's epoch: set when the venue's data is first written, so a Redis that
--                  lost its data starts a new epoch as its seq starts again
--   events:{v}     the outbox: a stream whose entry ids are the seqs ("<seq>-0"), fields
--                  t (held|released|booked) and p (the NATS payload, byte for byte)
--   shoppers:{v}   (waiting room) sorted set owner -> unix ms its pass ends
--   booked_at:{v}  (waiting room) sorted set owner -> unix ms of its last booking
--   free:{v}       the free-seat index best available searches: run number -> one character
--                  per seat of the run ('0' free, '1' held or booked, 'x' never for sale);
--                  'logn', 'logbase', 'l<n>' -> the log of runs changed (log_run_change);
--                  'kinds', 'kgen', 'k|<request>' -> best.lua's kinds of request: each one's
--                  id in bestrank:{v} and the last log entry its ranking took in
--   place:{v}      seat -> "<run>:<position>" in that index
--   bestruns:{v}, bestorder:{v}, bestindex:{v}   the runs' static picture, the search orders
--                  (with 'p|<order>|<run>' -> the run's position in it) and which layout they
--                  hold (lua/best_index.lua writes them)
--   bestrank:{v}   sorted set: per kind of request, each run that has a block for it, scored
--                  by its best block (best.lua)
-- <owner> is the secret-derived authority key (64 hex digits); <user_id> is for display only.

local function split_state(value)
  -- returns kind ('h' or 'b'), user_id, expires_ms (string, holds only), owner
  if not value then return nil end
  local fields = {}
  for field in string.gmatch(value .. '|', '([^|]*)|') do table.insert(fields, field) end
  return fields[1], fields[2], fields[3], fields[4]
end

local function split_lock(value)
  -- returns kind ('h' or 'b'), owner, expires_ms (string, holds only)
  if not value then return nil end
  local kind, owner, expires = string.match(value, '^(%a)|([^|]*)|?(%d*)$')
  return kind, owner, expires
end

local function drop_hold(counts, owner)
  if redis.call('HINCRBY', counts, owner, -1) <= 0 then
    redis.call('HDEL', counts, owner)
  end
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The venue's epoch, started now if the venue has none (a new or wiped Redis).
local function venue_epoch(epoch_key)
  local epoch = redis.call('GET', epoch_key)
  if not epoch then
    epoch = string.format('%d', now_ms())
    redis.call('SET', epoch_key, epoch)
  end
  return epoch
end

-- Numbers one change and appends its event to the outbox, in the same atomic step as the change.
-- The payload is the NATS message, field for field as shared::SeatEvent serialises it.
-- out: {events, seq, epoch keys; venue; max_len}   returns the new seq (string)
local function emit(out, kind, seat, status, user_id, expires_ms, reason)
  local epoch = venue_epoch(out.epoch)
  local seq = redis.call('INCR', out.seq)
  local parts = {
    '{"type":"', kind, '","venue":"', out.venue, '","seq":', string.format('%d', seq),
    ',"seat_id":"', seat, '","status":', status,
  }
  if user_id and user_id ~= '' then
    table.insert(parts, ',"user_id":"' .. user_id .. '"')
  end
  if expires_ms and expires_ms ~= '' then
    table.insert(parts, ',"expires_at":' .. string.format('%d', math.floor((tonumber(expires_ms) + 999) / 1000)))
  end
  if reason then
    table.insert(parts, ',"reason":"' .. reason .. '"')
  end
  table.insert(parts, ',"ts_ms":' .. string.format('%d', now_ms()) .. ',"epoch":' .. epoch .. '}')
  local payload = table.concat(parts)
  redis.call('XADD', out.events, 'MAXLEN', '~', out.max_len, string.format('%d', seq) .. '-0',
    't', kind, 'p', payload)
  return string.format('%d', seq)
end

-- With the waiting room on (ARGV flag '1'), whether the owner holds a pass now.
local function admitted(shoppers, owner, waiting_room)
  if waiting_room ~= '1' then return true end
  local pass = redis.call('ZSCORE', shoppers, owner)
  return pass ~= false and pass ~= nil and tonumber(pass) > now_ms()
end

-- Book and release act only on the caller's own hold: nil when `lock` is that hold, else the
-- refusal. Your own hold is yours to book or release even after your pass ended; anything else
-- needs a pass while the waiting room is on.
local function refuse_unless_holder(lock, owner, shoppers, waiting_room)
  local kind, holder = split_lock(redis.call('GET', lock))
  if kind == 'b' then return {'SEAT_BOOKED'} end
  if kind == 'h' and holder == owner then return nil end
  if not admitted(shoppers, owner, waiting_room) then return {'NOT_ADMITTED'} end
  return {'NOT_HOLDER', kind == 'h' and 'other' or ''}
end

-- Best available's change log in free:{v}: 'logn' counts the runs whose free string changed and
-- 'l<n>' names the n-th; 'logbase' is the oldest entry still kept. A kind of request's ranking
-- (best.lua) reads the entries after the last one it applied and re-ranks only those runs.
-- Entries are dropped a thousand at a time, always keeping the last LOG_KEEP.
local LOG_KEEP, LOG_TRIM = 3072, 1024
local function log_run_change(free_key, run)
  local n = redis.call('HINCRBY', free_key, 'logn', 1)
  redis.call('HSET', free_key, 'l' .. n, run)
  if n % LOG_TRIM == 0 and n > LOG_KEEP then
    local fields = {}
    for i = n - LOG_KEEP - LOG_TRIM + 1, n - LOG_KEEP do fields[#fields + 1] = 'l' .. i end
    redis.call('HDEL', free_key, unpack(fields))
    redis.call('HSET', free_key, 'logbase', n - LOG_KEEP + 1)
  end
end

-- Keeps the free-seat index (free:{v}, place:{v}) in step with a change of state:{v}, in the
-- same atomic step, and logs the run as changed. Until best available first builds the index
-- there is none to keep, and after a reset it is rebuilt from state:{v} when next needed.
-- index: {free, place keys}   taken: whether the seat is now held or booked
local function mark_seat(index, seat, taken)
  local place = redis.call('HGET', index.place, seat)
  if not place then return end
  local run, pos = string.match(place, '^(%d+):(%d+)$')
  local free = redis.call('HGET', index.free, run)
  if not free then return end
  pos = tonumber(pos)
  redis.call('HSET', index.free, run,
    string.sub(free, 1, pos - 1) .. (taken and '1' or '0') .. string.sub(free, pos + 1))
  log_run_change(index.free, run)
end
