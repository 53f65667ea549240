-- decide.lua: admit or refuse a batch of rate-limit requests, each all-or-nothing, in order.
--
-- KEYS[1]  the limiter key prefix, e.g. "sluice:{rl}:". Every key touched is KEYS[1] .. suffix,
--          so all of them share the prefix's hash slot; the quota and usage keys have to be
--          built here because their period comes from TIME, not from the caller.
-- ARGV[1]  the batch as one string of fields, each ended by "\31" (ASCII unit separator):
--            N, then per request:
--            nb, nb x (bucket suffix, rate in tokens/s, burst in tokens),
--            nq (0 or 1), and if 1: owner "plan:key", limit (requests), period DAY|WEEK|MONTH
--          One argument instead of ~13 per request: redis-py encodes each argument in Python,
--          and at 64 requests a batch that cost 40 us a request; splitting here costs ~1 us.
-- Returns  2 integers per request: code (0 admitted, i >= 1 refused by bucket i, -1 refused by
--          the quota) and the quota remaining after it (-1 when the request has no quota).
-- State    bucket string "<tokens> <last update, ms since the epoch>", expiring (PX) at the time
--          to refill fully + 1000 ms; quota counter "q:<owner>:<PERIOD>:<first day>" expiring
--          (EXAT) one day after the period; usage counter "u:<owner>:<YYYY-MM-DD>" kept 100 days.
-- Units    time from redis.call('TIME'): seconds + microseconds -> ms (float), days since epoch.
--
-- A batch reads every bucket and counter with ONE MGET and writes each changed one with ONE SET
-- (value and expiry together): 64 requests sharing the account bucket cost one read and one
-- write. Redis counts commands run inside a script in INFO commandstats too, so this is what
-- keeps bench throttled under 0.25 commands per request (was HMGET + HSET + PEXPIRE a key).
-- ratelimit/storage/memory.py is the same algorithm in Python; keep the two in step.

local floor = math.floor

-- Howard Hinnant's civil-from-days / days-from-civil (proleptic Gregorian, day 0 = 1970-01-01).
local function civil(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function iso(day)
  local y, m, d = civil(day)
  return string.format('%04d-%02d-%02d', y, m, d)
end

-- first day of the period holding `day`, first day of the next period
local function bounds(period, day)
  if period == 'DAY' then return day, day + 1 end
  if period == 'WEEK' then
    local start = day - (day + 3) % 7  -- 1970-01-01 was a Thursday
    return start, start + 7
  end
  local y, m = civil(day)
  local ny, nm = y, m + 1
  if nm == 13 then ny, nm = y + 1, 1 end
  return days_from_civil(y, m, 1), days_from_civil(ny, nm, 1)
end
-- END CALENDAR (tests evaluate the code above this line on a real Redis)

local prefix = KEYS[1]
local time = redis.call('TIME')
local now_s = tonumber(time[1])
local now_ms = now_s * 1000 + tonumber(time[2]) / 1000
local today = floor(now_s / 86400)
local today_iso = iso(today)

local periods = {}
for _, p in ipairs({'DAY', 'WEEK', 'MONTH'}) do
  local start, stop = bounds(p, today)
  periods[p] = {':' .. p .. ':' .. iso(start), (stop + 1) * 86400}
end

local ARG = {}
for field in string.gmatch(ARGV[1], '([^\031]*)\031') do ARG[#ARG + 1] = field end

-- Pass 1: parse the batch and name every key it touches, so one MGET reads them all.
local requests = {}
local names, index = {}, {}  -- full key names in first-seen order, suffix -> position
local function want(suffix)
  if index[suffix] == nil then
    names[#names + 1] = prefix .. suffix
    index[suffix] = #names
  end
end
local n = tonumber(ARG[1])
local a = 2
for r = 1, n do
  local nb = tonumber(ARG[a])
  a = a + 1
  local req = {bs = {}}
  for i = 1, nb do
    req.bs[i] = {ARG[a], tonumber(ARG[a + 1]), tonumber(ARG[a + 2])}
    want(ARG[a])
    a = a + 3
  end
  if tonumber(ARG[a]) == 1 then
    local who, limit, period = ARG[a + 1], tonumber(ARG[a + 2]), ARG[a + 3]
    local p = periods[period]
    req.q = {'q:' .. who .. p[1], limit, p[2], 'u:' .. who .. ':' .. today_iso}
    want(req.q[1])
    want(req.q[4])
    a = a + 4
  else
    a = a + 1
  end
  requests[r] = req
end
local stored = {}
if #names > 0 then stored = redis.call('MGET', unpack(names)) end

local buckets = {}   -- suffix -> {tokens, rate, burst, dirty}
local counters = {}  -- suffix -> {count, added, expire at (s)}

local function bucket(suffix, rate, burst)
  local b = buckets[suffix]
  if b == nil then
    local st = stored[index[suffix]]
    local tokens = burst
    if st then
      local t, ts = string.match(st, '^(%S+) (%S+)$')
      tokens = tonumber(t)
      local elapsed = now_ms - tonumber(ts)
      if elapsed > 0 then tokens = tokens + elapsed * rate / 1000 end
      if tokens > burst then tokens = burst end
    end
    b = {tokens, rate, burst, false}
    buckets[suffix] = b
  end
  return b
end

local function counter(suffix, expire_at)
  local c = counters[suffix]
  if c == nil then
    c = {tonumber(stored[index[suffix]] or '0'), 0, expire_at}
    counters[suffix] = c
  end
  return c
end

-- Pass 2: decide each request in order, all or nothing.
local out = {}
local seen = {}
for r = 1, n do
  local req = requests[r]
  local refused = 0
  for i, spec in ipairs(req.bs) do
    local b = bucket(spec[1], spec[2], spec[3])
    if b[1] < 1 then refused = i break end
    seen[i] = b
  end
  local remaining = -1
  local q = req.q
  if q ~= nil and refused == 0 then
    local qc = counter(q[1], q[3])
    if qc[1] >= q[2] then
      refused = -1
      remaining = 0
    else
      qc[1] = qc[1] + 1
      qc[2] = qc[2] + 1
      local u = counter(q[4], (today + 101) * 86400)
      u[1] = u[1] + 1
      u[2] = u[2] + 1
      remaining = q[2] - qc[1]
    end
  end
  if refused == 0 then
    for i = 1, #req.bs do
      local b = seen[i]
      b[1] = b[1] - 1
      b[4] = true
    end
  end
  out[#out + 1] = refused
  out[#out + 1] = remaining
end

-- Each changed key is written once, value and expiry in one SET: a bucket as "tokens ts_ms"
-- expiring when it would be full again (+1 s), a counter expiring after its period.
for suffix, b in pairs(buckets) do
  if b[4] then
    local value = string.format('%.17g %.17g', b[1], now_ms)
    if b[2] > 0 then
      local ttl = math.ceil((b[3] - b[1]) * 1000 / b[2]) + 1000
      if ttl > 315360000000 then ttl = 315360000000 end
      redis.call('SET', prefix .. suffix, value, 'PX', string.format('%d', ttl))
    else
      redis.call('SET', prefix .. suffix, value)
    end
  end
end
for suffix, c in pairs(counters) do
  if c[2] > 0 then
    redis.call('SET', prefix .. suffix, string.format('%d', c[1]), 'EXAT', string.format('%d', c[3]))
  end
end
return out
