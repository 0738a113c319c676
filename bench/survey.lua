-- wrk script for bench/survey_http.py (see bench/common.py: run_wrk).
--
--   wrk ... -s bench/survey.lua URL                                   GET the URL's path
--   wrk ... -s bench/survey.lua URL -- PATHS BODY COOKIE THREADS      POST BODY to each path once
--
-- POST mode: each wrk thread takes every THREADS-th line of the PATHS file (one survey link per
-- line, each spent by one answer), so no two requests answer the same survey. A thread that runs
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
  local share = tonumber(args[4])
  paths = {}
  local index = 0
  for line in io.lines(args[1]) do
    if index % share == id then
      table.insert(paths, line)
    end
    index = index + 1
  end
  local file = io.open(args[2], "rb")
  body = file:read("*a")
  file:close()
  headers = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = args[3] }
  next_path = 1
end

function request()
  if mode == "get" then
    return get_request
  end
  local path = paths[next_path]
  next_path = next_path + 1
  if next_path > #paths then
    next_path = 1
    wrapped = wrapped + 1
  end
  return wrk.format("POST", path, headers, body)
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
