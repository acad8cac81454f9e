-- Best available: choose the block of `count` adjacent free seats nearest the focal point and
-- hold it, in this one atomic step, so the choice can never be stale and no two requests can
-- get the same seat, whatever any client saw.
-- KEYS: state, holds, counts, seq, epoch, events, shoppers, booked_at, free, place, bestruns,
--       bestorder, bestindex, bestrank
-- ARGV: owner, user_id, venue, max_len, waiting_room (1/0), hold_seconds, max_holds,
--       lock prefix, layout fingerprint, count, order list name (all, w, c:<category> or
--       s:<section>), category character ('' for any), accessible (1/0), single-seat rule (1/0)
-- Returns like lua/group.lua {'CHANGED', user_id, then per seat: id, expires_ms, seq}, or
-- {'NO_INDEX'} (build it, then ask again), {'NOT_ADMITTED'}, {'MAX_HOLDS_EXCEEDED'} or
-- {'NO_SEATS_TOGETHER'}.
--
-- A block's distance is the mean of its seats' distances to the focal point. Blocks compare by
-- distance band first (whole chart units), then a block that leaves no single free seat alone
-- beats one that does, then the nearer, then the earlier run in the search order and the
-- earlier seat. Ordinary requests never take a wheelchair space and take companion seats only
-- when no block without them fits; with `accessible` a block is one wheelchair space and
-- count - 1 companion or other seats.
--
-- Each kind of request (count, order, category, accessible, rule, companions allowed) keeps a
-- ranking in bestrank:{v}: the runs it covers that have a block, scored by that run's best
-- block. It covers its order's runs from the nearest on, as far as a request has needed: the
-- first run of the ranking is the answer once no run beyond could beat it (runs come by their
-- nearest seat), else the ranking reaches further. A request first re-ranks the covered runs
-- changed since its kind last looked (the log that mark_seat keeps in free:{v}), so the cost
-- is per run changed, not per run of the venue. A kind not seen yet, far behind, or whose log
-- entries were dropped starts again from the nearest runs.
local state, holds, counts = KEYS[1], KEYS[2], KEYS[3]
local out = {seq = KEYS[4], epoch = KEYS[5], events = KEYS[6], venue = ARGV[3], max_len = ARGV[4]}
local shoppers = KEYS[7]
local index = {free = KEYS[9], place = KEYS[10]}
local runs_key, order_key, marker, ranking = KEYS[11], KEYS[12], KEYS[13], KEYS[14]
local owner, user_id = ARGV[1], ARGV[2]
local hold_seconds, max_holds = tonumber(ARGV[6]), tonumber(ARGV[7])
local lock_prefix, count, order_name = ARGV[8], tonumber(ARGV[10]), ARGV[11]
local want_category, accessible, rule = ARGV[12], ARGV[13] == '1', ARGV[14] == '1'

if redis.call('GET', marker) ~= ARGV[9] then return {'NO_INDEX'} end
if not admitted(shoppers, owner, ARGV[5]) then return {'NOT_ADMITTED'} end
local held = tonumber(redis.call('HGET', counts, owner) or '0')
if held + count > max_holds then return {'MAX_HOLDS_EXCEEDED'} end
if redis.call('HEXISTS', order_key, order_name) == 0 then return {'NO_SEATS_TOGETHER'} end
local free_block = string.rep('0', count)

-- A run's static picture: ids (comma-separated), distances (six digits each), kinds, categories.
local function parse_run(value)
  local ids, dists, kinds, cats = string.match(value, '^([^|]*)|([^|]*)|([^|]*)|(.*)$')
  return {ids = ids, dists = dists, kinds = kinds, cats = cats}
end

local WHEELCHAIR, COMPANION, SEAT = string.byte('w'), string.byte('c'), string.byte('r')
local want_byte = want_category ~= '' and string.byte(want_category) or nil

-- Whether seat k of a run may be in the block (wheelchair spaces are counted by the caller).
local function may_take(run, k, with_companions)
  if want_byte and string.byte(run.cats, k) ~= want_byte then return false end
  local kind = string.byte(run.kinds, k)
  if kind == WHEELCHAIR then return accessible end
  if kind == COMPANION then return accessible or with_companions end
  return kind == SEAT
end

-- Whether a block ranked (band, strands, sum, rank, first) beats `key`, compared in order.
local function beats(band, strands, sum, rank, first, key)
  if band ~= key[1] then return band < key[1] end
  if strands ~= key[2] then return strands < key[2] end
  if sum ~= key[3] then return sum < key[3] end
  if rank ~= key[4] then return rank < key[4] end
  return first < key[5]
end

-- The best block of one run's free stretches, if it beats `best`. Each stretch long enough is
-- read once; running counts (seats that may not be taken, wheelchair spaces, distances) rank
-- each window in O(1).
local function best_in_run(best, number, rank, free, run, with_companions)
  local from = 1
  while true do
    local a, b = string.find(free, '0+', from)
    if not a then return best end
    from = b + 1
    local stretch = b - a + 1
    if stretch >= count then
      local barred, wheel, dist = {}, {}, {}
      local n_barred, n_wheel, sum = 0, 0, 0
      for k = a, b do
        barred[k] = may_take(run, k, with_companions) and 0 or 1
        wheel[k] = string.byte(run.kinds, k) == WHEELCHAIR and 1 or 0
        dist[k] = tonumber(string.sub(run.dists, 6 * k - 5, 6 * k))
        n_barred, n_wheel, sum = n_barred + barred[k], n_wheel + wheel[k], sum + dist[k]
        local s = k - count + 1
        if s > a then
          n_barred, n_wheel, sum = n_barred - barred[s - 1], n_wheel - wheel[s - 1], sum - dist[s - 1]
        end
        if s >= a and n_barred == 0 and (not accessible or n_wheel == 1) then
          local strands = (s - a == 1) or (b - k == 1)
          -- The single-seat rule refuses a block that strands a seat its stretch could have
          -- spared.
          if not (rule and strands and stretch ~= count + 1) then
            local band, strand = math.floor(sum / (count * 100)), strands and 1 or 0
            if not best or beats(band, strand, sum, rank, s, best.key) then
              best = {key = {band, strand, sum, rank, s}, number = number, first = s, run = run}
            end
          end
        end
      end
    end
  end
end

-- A ranking's score: the kind's id, then band and strand, then the sum of distances, each in
-- bits of its own below 2^53 so the double holds it exactly; ties go to the member, whose
-- zero-padded search position sorts like the number. Sums past 2^28 (a count of hundreds at
-- the chart's far edge) all rank as one.
local KIND_SPAN, SUM_SPAN, MAX_KINDS = 2 ^ 43, 2 ^ 28, 1023
-- A kind more than this many log entries behind starts its ranking again instead.
local CATCH_UP_MAX = 256
-- Runs ranked at a time when a kind's ranking reaches further down its order.
local REACH = 8

local function score(kind, key)
  return string.format('%.0f', kind.id * KIND_SPAN + (key[1] * 2 + key[2]) * SUM_SPAN
    + math.min(key[3], SUM_SPAN - 1))
end
local function member(kind, rank, number)
  return string.format('%d|%05d|%s', kind.id, rank, number)
end
-- The order list (about 11 KB on the arena), read once per request and only when needed.
local order_list
local function order()
  order_list = order_list or redis.call('HGET', order_key, order_name)
  return order_list
end
local function kind_range(kind)
  return string.format('%.0f', kind.id * KIND_SPAN), string.format('(%.0f', (kind.id + 1) * KIND_SPAN)
end

-- The best block of run `number` (at `rank` in the order) for `kind`, or nil.
local function rank_one(kind, number, rank, free)
  if not (free and string.find(free, free_block, 1, true)) then return nil end
  local run = parse_run(redis.call('HGET', runs_key, number))
  return best_in_run(nil, number, rank, free, run, kind.with_companions)
end

-- A kind's ranking covers the first `reached` runs of its order (those with a block for it);
-- `offset` is where the next run's entry starts in the order list and `next_nearest` that
-- run's nearest seat ('' when every run is covered).
local function start_over(kind)
  redis.call('ZREMRANGEBYSCORE', ranking, kind_range(kind))
  kind.reached, kind.offset = 0, 1
  local _, _, nearest = string.find(order(), '^%d+:(%d+)')
  kind.next_nearest = nearest or ''
end

-- Ranks the next REACH runs of the order for `kind`.
local function reach_further(kind)
  local list, numbers = order(), {}
  while #numbers < REACH do
    local a, b, number = string.find(list, '^(%d+):%d+,?', kind.offset)
    if not a then break end
    numbers[#numbers + 1] = number
    kind.offset = b + 1
  end
  local _, _, nearest = string.find(list, '^%d+:(%d+)', kind.offset)
  kind.next_nearest = nearest or ''
  if #numbers == 0 then return end
  local frees, entries = redis.call('HMGET', index.free, unpack(numbers)), {}
  for i = 1, #numbers do
    local found = rank_one(kind, numbers[i], kind.reached + i, frees[i])
    if found then
      entries[#entries + 1] = score(kind, found.key)
      entries[#entries + 1] = member(kind, kind.reached + i, numbers[i])
    end
  end
  kind.reached = kind.reached + #numbers
  if #entries > 0 then redis.call('ZADD', ranking, unpack(entries)) end
end

-- Re-ranks, for `kind`, the runs it covers among those named by log entries first..last.
local function rank_changed(kind, first, last)
  local fields = {}
  for i = first, last do fields[#fields + 1] = 'l' .. i end
  local seen, numbers, positions = {}, {}, {}
  for _, number in ipairs(redis.call('HMGET', index.free, unpack(fields))) do
    if number and not seen[number] then
      seen[number] = true
      numbers[#numbers + 1] = number
      positions[#positions + 1] = 'p|' .. order_name .. '|' .. number
    end
  end
  if #numbers == 0 then return end
  local ranks = redis.call('HMGET', order_key, unpack(positions))
  local frees = redis.call('HMGET', index.free, unpack(numbers))
  for i = 1, #numbers do
    local rank = tonumber(ranks[i])
    if rank and rank <= kind.reached then
      local found = rank_one(kind, numbers[i], rank, frees[i])
      if found then
        redis.call('ZADD', ranking, score(kind, found.key), member(kind, rank, numbers[i]))
      else
        redis.call('ZREM', ranking, member(kind, rank, numbers[i]))
      end
    end
  end
end

-- This request's kind (with or without companion seats), its ranking brought up to date.
local function current_kind(with_companions)
  local kind = {with_companions = with_companions, field = table.concat({'k',
    with_companions and 'c' or '-', count, order_name, want_category, ARGV[13], ARGV[14]}, '|')}
  -- One read for the generation, this kind's record and the log's ends.
  local read = redis.call('HMGET', index.free, 'kgen', kind.field, 'logn', 'logbase')
  kind.generation, kind.seen = read[1] or '0', tonumber(read[3] or '0')
  local known, base = read[2], tonumber(read[4] or '1')
  local cursor
  if known then
    local was, id, seen, reached, offset, nearest =
      string.match(known, '^(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d*)$')
    if was == kind.generation then
      kind.id, cursor = tonumber(id), tonumber(seen)
      kind.reached, kind.offset, kind.next_nearest = tonumber(reached), tonumber(offset), nearest
    end
  end
  if not kind.id then
    kind.id = redis.call('HINCRBY', index.free, 'kinds', 1)
    if kind.id > MAX_KINDS then
      -- Ids run out only after a thousand kinds: every kind starts again.
      redis.call('DEL', ranking)
      kind.generation = tostring(redis.call('HINCRBY', index.free, 'kgen', 1))
      redis.call('HSET', index.free, 'kinds', 1)
      kind.id = 1
    end
  end
  if not cursor or cursor + 1 < base or kind.seen - cursor > CATCH_UP_MAX then
    start_over(kind)
  elseif kind.seen > cursor then
    rank_changed(kind, cursor + 1, kind.seen)
  end
  return kind
end

local function save(kind)
  redis.call('HSET', index.free, kind.field, table.concat({kind.generation, kind.id, kind.seen,
    kind.reached, kind.offset, kind.next_nearest}, '|'))
end

-- Whether a block ranked (band, strand, sum) beats every block of the runs not yet covered:
-- those runs come by their nearest seat, and a block's mean distance is at least its run's
-- nearest seat's, so their blocks lie in that seat's band or later, with a sum of at least
-- count times its distance (an equal sum loses on search position).
local function beats_the_rest(kind, band, strand, sum)
  if kind.next_nearest == '' then return true end
  local nearest = tonumber(kind.next_nearest)
  local floor_band = math.floor(nearest / 100)
  return band < floor_band or (band == floor_band and strand == 0 and sum <= count * nearest)
end

-- The best block for `kind`: its ranking's first run once no run beyond it could beat it,
-- ranked again to find the block's seat.
local function best_of(kind)
  while true do
    local low, high = kind_range(kind)
    local top = redis.call('ZRANGEBYSCORE', ranking, low, high, 'WITHSCORES', 'LIMIT', 0, 1)
    if #top > 0 then
      local packed = tonumber(top[2]) - kind.id * KIND_SPAN
      local band_strand = math.floor(packed / SUM_SPAN)
      if beats_the_rest(kind, math.floor(band_strand / 2), band_strand % 2,
          packed - band_strand * SUM_SPAN) then
        save(kind)
        local rank, number = string.match(top[1], '^%d+|(%d+)|(%d+)$')
        return rank_one(kind, number, tonumber(rank), redis.call('HGET', index.free, number))
      end
    elseif kind.next_nearest == '' then
      save(kind)
      return nil
    end
    reach_further(kind)
  end
end

local function search()
  local best = best_of(current_kind(false))
  if best or accessible or redis.call('HEXISTS', order_key, '!companions') == 0 then return best end
  return best_of(current_kind(true))
end

local chosen
-- A seat the index shows free must have neither a lock nor a state entry; one that has (a
-- state written before this index existed) is marked taken and the search runs again.
for _ = 1, 8 do
  local best = search()
  if not best then return {'NO_SEATS_TOGETHER'} end
  local ids, position = {}, 0
  for id in string.gmatch(best.run.ids, '[^,]+') do
    position = position + 1
    if position >= best.first and position < best.first + count then table.insert(ids, id) end
  end
  local clean = true
  for _, id in ipairs(ids) do
    if redis.call('EXISTS', lock_prefix .. id) == 1 or redis.call('HEXISTS', state, id) == 1 then
      mark_seat(index, id, true)
      clean = false
    end
  end
  if clean then
    chosen = {ids = ids, number = best.number, first = best.first}
    break
  end
end
if not chosen then return {'NO_SEATS_TOGETHER'} end

local expires_ms = string.format('%d', now_ms() + hold_seconds * 1000)
local reply = {'CHANGED', user_id}
for _, id in ipairs(chosen.ids) do
  redis.call('SET', lock_prefix .. id, 'h|' .. owner .. '|' .. expires_ms, 'EX', hold_seconds)
  redis.call('HINCRBY', counts, owner, 1)
  redis.call('HSET', state, id, 'h|' .. user_id .. '|' .. expires_ms .. '|' .. owner)
  redis.call('ZADD', holds, expires_ms, id)
  table.insert(reply, id)
  table.insert(reply, expires_ms)
  table.insert(reply, emit(out, 'held', id, '1', user_id, expires_ms, nil))
end
local free = redis.call('HGET', index.free, chosen.number)
redis.call('HSET', index.free, chosen.number, string.sub(free, 1, chosen.first - 1)
  .. string.rep('1', count) .. string.sub(free, chosen.first + count))
log_run_change(index.free, chosen.number)
return reply
