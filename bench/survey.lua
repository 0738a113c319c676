-- wrk script for bench/survey_http.py (see bench/common.py: run_wrk).
--
--   wrk ... -s bench/survey.lua URL                                   GET the URL's path
--   wrk ... -s bench/survey.lua URL -- PATHS BODY THREADS     POST BODY to each path once
--
-- POST mode: each wrk thread takes every THREADS-th line of the PATHS file (one survey link and
-- its form token per line, tab-separated, each link spent by one answer), so no two requests
-- answer the same survey. The form token is added to BODY as csrf_token. A thread that runs
-- out of links starts again at its first one; done() reports how often, so the benchmark can
-- refuse a run whose later answers were only "already answered" pages.
-- done() prints one line, "wrk-json {...}", that the benchmark parses.

local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  wrapped = 0
  if #args == 0 then
    mode = "get"
    get_request = wrk.format("GET", wrk.path)
    return
  end
  mode = "post"
  local share = tonumber(args[3])
  local file = io.open(args[2], "rb")
  local body = file:read("*a")
  file:close()
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  -- Each request is formatted once, up front, so the client spends no time on it under load.
  requests = {}
  local index = 0
  for line in io.lines(args[1]) do
    if index % share == id then
      local path, token = line:match("^([^\t]+)\t?(.*)$")
      table.insert(requests, wrk.format("POST", path, headers, body .. "&csrf_token=" .. token))
    end
    index = index + 1
  end
  next_path = 1
end

function request()
  if mode == "get" then
    return get_request
  end
  local formatted = requests[next_path]
  next_path = next_path + 1
  if next_path > #requests then
    next_path = 1
    wrapped = wrapped + 1
  end
  return formatted
end

function done(summary, latency, requests)
  local wraps = 0
  for _, thread in ipairs(threads) do
    wraps = wraps + (thread:get("wrapped") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    'wrk-json {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
      .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, "wrapped": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.connect, errors.read, errors.write, errors.status, errors.timeout, wraps
  ))
end
