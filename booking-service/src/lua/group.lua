-- Hold, book or release several seats together: every seat or none, in this one atomic step.
-- Each seat that changes gets its own event, numbered consecutively. Seats the caller already
-- holds are left as they are (a hold is never extended); the seats a select newly holds share
-- one expiry.
-- KEYS: state, holds, counts, seq, epoch, events, shoppers, booked_at, then each seat's lock
-- ARGV: mode (select|book|release), owner, user_id, venue, max_len, waiting_room (1/0),
--       hold_seconds, max_holds, then the seat ids (distinct, in the order of their locks)
-- Returns {'CHANGED', user_id, then per seat: id, expires_ms ('' unless held), seq ('' when
-- unchanged)} or a refusal {code, seat ids in the way...}.
local state, holds, counts = KEYS[1], KEYS[2], KEYS[3]
local out = {seq = KEYS[4], epoch = KEYS[5], events = KEYS[6], venue = ARGV[4], max_len = ARGV[5]}
local shoppers, booked_at = KEYS[7], KEYS[8]
local mode, owner, user_id, waiting_room = ARGV[1], ARGV[2], ARGV[3], ARGV[6]
local hold_seconds, max_holds = tonumber(ARGV[7]), tonumber(ARGV[8])
local FIRST_LOCK, FIRST_SEAT = 9, 9
local count = #ARGV - FIRST_SEAT + 1

-- Each seat as it stands: lock kind and holder, and the announced state's kind and owner.
local seats = {}
for i = 1, count do
  local lock = KEYS[FIRST_LOCK + i - 1]
  local kind, holder, expires = split_lock(redis.call('GET', lock))
  local prev_kind, _, _, prev_owner = split_state(redis.call('HGET', state, ARGV[FIRST_SEAT + i - 1]))
  seats[i] = {id = ARGV[FIRST_SEAT + i - 1], lock = lock, kind = kind, holder = holder,
    expires = expires, prev_kind = prev_kind, prev_owner = prev_owner}
end

local function ids(pick)
  local found = {}
  for _, seat in ipairs(seats) do
    if pick(seat) then table.insert(found, seat.id) end
  end
  return found
end

local function refuse(code, found)
  local reply = {code}
  for _, id in ipairs(found) do table.insert(reply, id) end
  return reply
end

local function booked(seat)
  return seat.kind == 'b' or (seat.kind == nil and seat.prev_kind == 'b')
end
local function mine(seat) return seat.kind == 'h' and seat.holder == owner end

local reply = {'CHANGED', user_id}
local function answer(seat, expires_ms, seq)
  table.insert(reply, seat.id)
  table.insert(reply, expires_ms or '')
  table.insert(reply, seq or '')
end

if mode == 'select' then
  if not admitted(shoppers, owner, waiting_room) then return {'NOT_ADMITTED'} end
  local in_the_way = ids(function(s) return booked(s) or (s.kind == 'h' and s.holder ~= owner) end)
  if #in_the_way > 0 then
    for _, seat in ipairs(seats) do
      -- A booking never loses its lock; if it did, put it back rather than sell the seat twice.
      if seat.kind == nil and seat.prev_kind == 'b' then
        redis.call('SET', seat.lock, 'b|' .. (seat.prev_owner or ''))
      end
    end
    local code = #ids(booked) > 0 and 'SEAT_BOOKED' or 'SEAT_UNAVAILABLE'
    return refuse(code, in_the_way)
  end
  local held = tonumber(redis.call('HGET', counts, owner) or '0')
  local new = 0
  for _, seat in ipairs(seats) do
    if not mine(seat) then
      new = new + 1
      -- A hold of ours whose lock ran out but whose expiry is not announced yet still counts.
      if seat.prev_owner == owner then held = held - 1 end
    end
  end
  if held + new > max_holds then
    return refuse('MAX_HOLDS_EXCEEDED', ids(function(s) return not mine(s) end))
  end
  local expires_ms = string.format('%d', now_ms() + hold_seconds * 1000)
  for _, seat in ipairs(seats) do
    if mine(seat) then
      answer(seat, seat.expires, nil)
    else
      redis.call('SET', seat.lock, 'h|' .. owner .. '|' .. expires_ms, 'EX', hold_seconds)
      if seat.prev_owner then drop_hold(counts, seat.prev_owner) end
      redis.call('HINCRBY', counts, owner, 1)
      redis.call('HSET', state, seat.id, 'h|' .. user_id .. '|' .. expires_ms .. '|' .. owner)
      redis.call('ZADD', holds, expires_ms, seat.id)
      answer(seat, expires_ms, emit(out, 'held', seat.id, '1', user_id, expires_ms, nil))
    end
  end
  return reply
end

-- Book and release act only on the caller's own holds. Your own holds are yours to book or
-- release even after your pass ended; anything else needs a pass while the waiting room is on.
local not_mine = ids(function(s) return not mine(s) end)
if #not_mine > 0 then
  if not admitted(shoppers, owner, waiting_room) then return {'NOT_ADMITTED'} end
  local code = #ids(booked) > 0 and 'SEAT_BOOKED' or 'NOT_HOLDER'
  return refuse(code, not_mine)
end
for _, seat in ipairs(seats) do
  redis.call('ZREM', holds, seat.id)
  drop_hold(counts, owner)
  if mode == 'book' then
    redis.call('SET', seat.lock, 'b|' .. owner)
    redis.call('HSET', state, seat.id, 'b|' .. user_id .. '||' .. owner)
    answer(seat, nil, emit(out, 'booked', seat.id, '2', user_id, nil, nil))
  else
    redis.call('DEL', seat.lock)
    redis.call('HDEL', state, seat.id)
    answer(seat, nil, emit(out, 'released', seat.id, '0', user_id, nil, 'released'))
  end
end
if mode == 'book' then redis.call('ZADD', booked_at, now_ms(), owner) end
return reply
