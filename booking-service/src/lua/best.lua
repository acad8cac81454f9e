-- Best available: choose the block of `count` adjacent free seats nearest the focal point and
-- hold it, in this one atomic step, so the choice can never be stale and no two requests can
-- get the same seat, whatever any client saw.
-- KEYS: state, holds, counts, seq, epoch, events, shoppers, booked_at, free, place, bestruns,
--       bestorder, bestindex
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
-- earlier seat. Runs are searched by their nearest seat, so the search stops at the first run
-- whose nearest seat lies in a band past the best block found (or, when that block leaves no
-- seat alone, whose nearest seat times count is no nearer than the block). Ordinary requests never take a
-- wheelchair space and take companion seats only when no block without them fits; with
-- `accessible` a block is one wheelchair space and count - 1 companion or other seats.
local state, holds, counts = KEYS[1], KEYS[2], KEYS[3]
local out = {seq = KEYS[4], epoch = KEYS[5], events = KEYS[6], venue = ARGV[3], max_len = ARGV[4]}
local shoppers = KEYS[7]
local index = {free = KEYS[9], place = KEYS[10]}
local runs_key, order_key, marker = KEYS[11], KEYS[12], KEYS[13]
local owner, user_id = ARGV[1], ARGV[2]
local hold_seconds, max_holds = tonumber(ARGV[6]), tonumber(ARGV[7])
local lock_prefix, count = ARGV[8], tonumber(ARGV[10])
local want_category, accessible, rule = ARGV[12], ARGV[13] == '1', ARGV[14] == '1'
local BATCH = 32

if redis.call('GET', marker) ~= ARGV[9] then return {'NO_INDEX'} end
if not admitted(shoppers, owner, ARGV[5]) then return {'NOT_ADMITTED'} end
local held = tonumber(redis.call('HGET', counts, owner) or '0')
if held + count > max_holds then return {'MAX_HOLDS_EXCEEDED'} end
local order = redis.call('HGET', order_key, ARGV[11])
if not order then return {'NO_SEATS_TOGETHER'} end
local free_block = string.rep('0', count)
-- A request that found no block is remembered until a seat is freed: taking seats only removes
-- blocks, so until then the same request would search everything to find none again.
local none_field = table.concat({'none', count, ARGV[11], ARGV[12], ARGV[13], ARGV[14]}, '|')
local freed = redis.call('HGET', index.free, 'freed') or '0'
if redis.call('HGET', index.free, none_field) == freed then return {'NO_SEATS_TOGETHER'} end
local function no_block()
  redis.call('HSET', index.free, none_field, freed)
  return {'NO_SEATS_TOGETHER'}
end
-- Whether a run the search read has companion seats: only then can a second search that may
-- take them find a block the first did not.
local companions_met = false

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

-- The best block of one run for this request, or nil: from free:{v}'s memo when the run's free
-- seats are as they were when it was ranked, otherwise ranked now and remembered. The memo
-- holds the run's free string it was ranked from, so any change to the run makes it stale.
local memo_suffix = table.concat({count, ARGV[12], ARGV[13], ARGV[14]}, '|')
local function run_best(number, free, with_companions)
  local field = table.concat({'w', number, with_companions and 'c' or '-', memo_suffix}, '|')
  local memo = redis.call('HGET', index.free, field)
  if memo then
    local was, companions, rest = string.match(memo, '^([^|]*)|(%d)|(.*)$')
    if was == free then
      companions_met = companions_met or companions == '1'
      if rest == 'none' then return nil end
      local band, strand, sum, first = string.match(rest, '^(%d+)|(%d)|(%d+)|(%d+)$')
      return tonumber(band), tonumber(strand), tonumber(sum), tonumber(first)
    end
  end
  local run = parse_run(redis.call('HGET', runs_key, number))
  local companions = string.find(run.kinds, 'c', 1, true) ~= nil
  companions_met = companions_met or companions
  local found = best_in_run(nil, number, 0, free, run, with_companions)
  local head = free .. '|' .. (companions and '1' or '0') .. '|'
  if not found then
    redis.call('HSET', index.free, field, head .. 'none')
    return nil
  end
  local band, strand, sum = found.key[1], found.key[2], found.key[3]
  redis.call('HSET', index.free, field, head .. table.concat({band, strand, sum, found.first}, '|'))
  return band, strand, sum, found.first
end

local function search(with_companions)
  local best, rank, next_run = nil, 0, string.gmatch(order, '(%d+):(%d+)')
  while true do
    local numbers, nearest = {}, {}
    for number, d in next_run do
      table.insert(numbers, number)
      table.insert(nearest, tonumber(d))
      if #numbers == BATCH then break end
    end
    if #numbers == 0 then return best end
    local frees = redis.call('HMGET', index.free, unpack(numbers))
    for i = 1, #numbers do
      rank = rank + 1
      -- No later run can beat `best`: their blocks lie in a later band or, when `best` leaves
      -- no seat alone, their blocks' distances (at least count times the run's nearest seat)
      -- are no smaller. Runs come by their nearest seat, so this holds for every later run.
      if best and (math.floor(nearest[i] / 100) > best.key[1]
          or (best.key[2] == 0 and count * nearest[i] >= best.key[3])) then
        return best
      end
      local free = frees[i]
      if free and string.find(free, free_block, 1, true) then
        local band, strand, sum, first = run_best(numbers[i], free, with_companions)
        if band and (not best or beats(band, strand, sum, rank, first, best.key)) then
          best = {key = {band, strand, sum, rank, first}, number = numbers[i], first = first}
        end
      end
    end
  end
end

local chosen
-- A seat the index shows free must have neither a lock nor a state entry; one that has (a
-- state written before this index existed) is marked taken and the search runs again.
for _ = 1, 8 do
  local best = search(false) or (not accessible and companions_met and search(true)) or nil
  if not best then return no_block() end
  local ids, position = {}, 0
  local run = parse_run(redis.call('HGET', runs_key, best.number))
  for id in string.gmatch(run.ids, '[^,]+') do
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
if not chosen then return no_block() end

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
return reply
