-- Build best available's index from the announced seats (state:{v}), in one atomic step: the
-- runs' static picture, the search orders (and each run's position in each, 'p|<order>|<run>';
-- '!companions' when a run has companion seats), place:{v} (seat -> run:position) and free:{v}
-- (each run's seats as '0' free, '1' held or booked, 'x' never for sale). From then on every
-- seat script keeps free:{v} in step with state:{v}. The rankings of bestrank:{v} start empty
-- (best.lua fills them). Does nothing when the index already holds this layout.
-- KEYS: state, free, place, bestruns, bestorder, bestindex, bestrank
-- ARGV: layout fingerprint, number of runs n, then the n runs
--       ("ids|dists|kinds|cats", as booking-service/src/best_layout.rs encodes them), then
--       pairs of order name and order list
-- Returns {'BUILT', runs} or {'CURRENT'}.
local state, free_key, place_key, runs_key, order_key, marker, ranking = KEYS[1], KEYS[2],
  KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local fingerprint, count = ARGV[1], tonumber(ARGV[2])
if redis.call('GET', marker) == fingerprint then return {'CURRENT'} end

redis.call('DEL', free_key, place_key, runs_key, order_key, ranking)
local companions = false
for r = 1, count do
  local run = ARGV[2 + r]
  local ids, kinds = string.match(run, '^([^|]*)|[^|]*|([^|]*)|')
  companions = companions or string.find(kinds, 'c', 1, true) ~= nil
  local seats = {}
  for id in string.gmatch(ids, '[^,]+') do table.insert(seats, id) end
  -- One read of the run's announced states; a lock without one (never written so) is found
  -- by best.lua's own check before it holds a seat.
  local states = redis.call('HMGET', state, unpack(seats))
  local free, places = {}, {}
  for pos, id in ipairs(seats) do
    local status = '0'
    if string.sub(kinds, pos, pos) == 'x' then
      status = 'x'
    elseif states[pos] then
      status = '1'
    end
    free[pos] = status
    table.insert(places, id)
    table.insert(places, r .. ':' .. pos)
  end
  redis.call('HSET', place_key, unpack(places))
  redis.call('HSET', free_key, tostring(r), table.concat(free))
  redis.call('HSET', runs_key, tostring(r), run)
end
for i = 3 + count, #ARGV, 2 do
  local name, positions, rank = ARGV[i], {}, 0
  redis.call('HSET', order_key, name, ARGV[i + 1])
  for number in string.gmatch(ARGV[i + 1], '(%d+):%d+') do
    rank = rank + 1
    positions[#positions + 1] = 'p|' .. name .. '|' .. number
    positions[#positions + 1] = rank
    if #positions >= 512 then
      redis.call('HSET', order_key, unpack(positions))
      positions = {}
    end
  end
  if #positions > 0 then redis.call('HSET', order_key, unpack(positions)) end
end
if companions then redis.call('HSET', order_key, '!companions', '1') end
redis.call('SET', marker, fingerprint)
return {'BUILT', tostring(count)}
