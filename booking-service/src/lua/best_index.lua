-- Build best available's index from the seats as they stand, in one atomic step: the runs'
-- static picture, the search orders, place:{v} (seat -> run:position) and free:{v} (each run's
-- seats as '0' free, '1' held or booked, 'x' never for sale). From then on every seat script
-- keeps free:{v} in step with state:{v}. Does nothing when the index already holds this layout.
-- KEYS: state, free, place, bestruns, bestorder, bestindex
-- ARGV: layout fingerprint, lock prefix, number of runs n, then the n runs
--       ("ids|dists|kinds|cats", as booking-service/src/best_layout.rs encodes them), then
--       pairs of order name and order list
-- Returns {'BUILT', runs} or {'CURRENT'}.
local state, free_key, place_key, runs_key, order_key, marker = KEYS[1], KEYS[2], KEYS[3],
  KEYS[4], KEYS[5], KEYS[6]
local fingerprint, lock_prefix, count = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('GET', marker) == fingerprint then return {'CURRENT'} end

redis.call('DEL', free_key, place_key, runs_key, order_key)
for r = 1, count do
  local run = ARGV[3 + r]
  local ids, kinds = string.match(run, '^([^|]*)|[^|]*|([^|]*)|')
  local free, places, pos = {}, {}, 0
  for id in string.gmatch(ids, '[^,]+') do
    pos = pos + 1
    local kind = string.sub(kinds, pos, pos)
    local status = '0'
    if kind == 'x' then
      status = 'x'
    elseif redis.call('HEXISTS', state, id) == 1 or redis.call('EXISTS', lock_prefix .. id) == 1 then
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
for i = 4 + count, #ARGV, 2 do
  redis.call('HSET', order_key, ARGV[i], ARGV[i + 1])
end
redis.call('SET', marker, fingerprint)
return {'BUILT', tostring(count)}
