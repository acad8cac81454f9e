-- Hold, book or release several seats together: every seat or none, in this one atomic step.
-- Each seat that changes gets its own event, numbered consecutively. Seats the caller already
-- holds are left as they are (a hold is never extended); the seats a select newly holds share
-- one expiry.
-- KEYS: state, holds, counts, seq, epoch, events, shoppers, booked_at, free, place, then each
--       seat's lock,
--       then (declared for Redis Cluster) the locks of the other seats of the runs below
-- ARGV: mode (select|book|release), owner, user_id, venue, max_len, waiting_room (1/0),
--       hold_seconds, max_holds, lock prefix, n, then the n seat ids (distinct, in the order
--       of their locks), then the runs the single-seat rule judges (none while it is off),
--       each as its seat ids in order, comma-separated, blocked seats marked with '!'
-- Returns {'CHANGED', user_id, then per seat: id, expires_ms ('' unless held), seq ('' when
-- unchanged)} or a refusal {code, seat ids in the way...}.
local state, holds, counts = KEYS[1], KEYS[2], KEYS[3]
local out = {seq = KEYS[4], epoch = KEYS[5], events = KEYS[6], venue = ARGV[4], max_len = ARGV[5]}
local shoppers, booked_at = KEYS[7], KEYS[8]
local index = {free = KEYS[9], place = KEYS[10]}
local mode, owner, user_id, waiting_room = ARGV[1], ARGV[2], ARGV[3], ARGV[6]
local hold_seconds, max_holds = tonumber(ARGV[7]), tonumber(ARGV[8])
local lock_prefix, count = ARGV[9], tonumber(ARGV[10])
local FIRST_LOCK, FIRST_SEAT = 11, 11
local FIRST_RUN = FIRST_SEAT + count

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

-- The single-seat rule: per free stretch of each run, counting only the seats this select newly
-- holds (`asked`), the free seats it would leave alone, unless every way of placing that many
-- seats in that stretch leaves one (a stretch one longer than the seats placed in it).
local function stranded_by(asked)
  local stranded = {}
  for r = FIRST_RUN, #ARGV do
    local ids, free = {}, {}
    for item in string.gmatch(ARGV[r], '[^,]+') do
      local blocked = string.sub(item, 1, 1) == '!'
      local id = blocked and string.sub(item, 2) or item
      local is_free = false
      if asked[id] then
        is_free = true
      elseif not blocked then
        local kind = split_lock(redis.call('GET', lock_prefix .. id))
        is_free = kind == nil and split_state(redis.call('HGET', state, id)) ~= 'b'
      end
      table.insert(ids, id)
      table.insert(free, is_free)
    end
    local i = 1
    while i <= #ids do
      if free[i] then
        local j = i
        while j < #ids and free[j + 1] do j = j + 1 end
        local placed = 0
        for x = i, j do if asked[ids[x]] then placed = placed + 1 end end
        if placed > 0 and (j - i + 1) - placed ~= 1 then
          for x = i, j do
            local alone = not asked[ids[x]]
              and (x == i or asked[ids[x - 1]]) and (x == j or asked[ids[x + 1]])
            if alone then table.insert(stranded, ids[x]) end
          end
        end
        i = j + 1
      else
        i = i + 1
      end
    end
  end
  return stranded
end

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
  if #ARGV >= FIRST_RUN then
    local asked = {}
    for _, seat in ipairs(seats) do
      if not mine(seat) then asked[seat.id] = true end
    end
    local stranded = stranded_by(asked)
    if #stranded > 0 then return refuse('SINGLE_SEAT_GAP', stranded) end
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
      mark_seat(index, seat.id, true)
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
    mark_seat(index, seat.id, false)
    answer(seat, nil, emit(out, 'released', seat.id, '0', user_id, nil, 'released'))
  end
end
if mode == 'book' then redis.call('ZADD', booked_at, now_ms(), owner) end
return reply
