-- wrk script: POST a small chat completion to /v1/chat/completions.
--
--   wrk ... -s bench/chat.lua http://127.0.0.1:PORT/v1/chat/completions -- [stream] [key=SECRET]
--
-- "stream" adds "stream": true (the target answers with SSE; wrk times the whole response, i.e. until the
-- last chunk, so stream latency is time-to-last-byte). "key=..." sends Authorization: Bearer ...
-- done() prints one machine-readable RESULT line that run.sh parses; wrk's human summary is printed too.

local body_plain  = '{"model":"bench-model","messages":[{"role":"user","content":"hello"}]}'
local body_stream = '{"model":"bench-model","stream":true,"messages":[{"role":"user","content":"hello"}]}'

-- Called once per wrk thread with the arguments after "--"; sets the request that thread repeats.
-- The request is prebuilt here (not in request()) so that Lua costs nothing per request.
function init(args)
  local stream, key = false, nil
  for _, a in ipairs(args) do
    if a == "stream" then stream = true end
    local k = a:match("^key=(.+)$")
    if k then key = k end
  end
  wrk.method = "POST"
  wrk.body = stream and body_stream or body_plain
  wrk.headers["Content-Type"] = "application/json"
  if key then wrk.headers["Authorization"] = "Bearer " .. key end
end

-- No response() callback on purpose: defining one makes wrk hand every response's headers and body to Lua,
-- which slows the load generator (it shares the 2 cores with the targets). wrk itself counts status >= 400
-- in errors.status, and run.sh checks each target's response shape once with curl before loading it.

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.1f p50_us=%d p99_us=%d requests=%d status_errors=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99),
    summary.requests, e.status, e.connect, e.read, e.write, e.timeout))
end
