-- wrk script: POST Tencent status-report pushes, every report with a sid never sent before,
-- and count the answers that are acks (HTTP 200 with "result":0).
--
-- Settings come from the environment (bench/wrk.py sets them):
--   BENCH_BATCH        reports per request (Tencent sends 1..100)
--   BENCH_RUN          a prefix unique to this run, so sids never repeat across runs
--   BENCH_PATH         the callback path (default /sms/callback)
--   BENCH_GAP_MS       0: closed loop, as fast as the server answers (saturation).
--                      > 0: each connection waits a random gap with this mean after each answer
--                      before it sends again (exponential, so arrivals are Poisson-like): a fixed
--                      offered rate of about connections * 1000 / (gap + latency) requests/s.
-- At the end one line "BENCH_JSON {...}" gives the counts and the latency percentiles.

local batch = tonumber(os.getenv("BENCH_BATCH") or "1")
local run = os.getenv("BENCH_RUN") or "bench"
local path = os.getenv("BENCH_PATH") or "/sms/callback"
local gap = tonumber(os.getenv("BENCH_GAP_MS") or "0")

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  generated, acked, answered = 0, 0, 0
  headers = { ["Content-Type"] = "application/json" }
  -- sids are serial numbers (Tencent calls them SerialNo), so they grow with time; mobile
  -- numbers are anybody's: scrambled (a bijection of the counter), so the mobile index gets
  -- inserts all over its B-tree, as real traffic gives it
  item = '{"user_receive_time":"2026-11-25 10:00:00","nationcode":"86","mobile":"138%08d",'
      .. '"report_status":"SUCCESS","errmsg":"DELIVRD","description":"用户短信接收成功",'
      .. '"sid":"' .. run .. ':' .. id .. ':%010d"}'
  math.randomseed(id * 7919)
end

function request()
  local parts = {}
  for i = 1, batch do
    generated = generated + 1
    parts[i] = string.format(item, (generated * 48271) % 100000000, generated)
  end
  return wrk.format("POST", path, headers, "[" .. table.concat(parts, ",") .. "]")
end

function response(status, headers, body)
  answered = answered + 1
  if status == 200 and string.find(body, '"result":0', 1, true) then
    acked = acked + 1
  end
end

if gap > 0 then
  function delay()
    -- wrk takes whole milliseconds: round at random so the mean stays exact
    local d = -math.log(1 - math.random()) * gap
    local whole = math.floor(d)
    if math.random() < d - whole then whole = whole + 1 end
    return whole
  end
end

function done(summary, latency, requests)
  local a, n, g = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("acked")
    n = n + t:get("answered")
    g = g + t:get("generated")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"duration_us":%d,"requests":%d,"answered":%d,"acked":%d,"generated_reports":%d,'
    .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
    .. '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\n',
    summary.duration, summary.requests, n, a, g,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
