-- wrk script for bench/edge.sh: GET the path given in the URL (keep-alive), with a Host header when "host=NAME" is
-- given (the edge's router matches Host(`bench.local`)). done() prints the same RESULT line as chat.lua.
function init(args)
  for _, a in ipairs(args) do
    local h = a:match("^host=(.+)$")
    if h then wrk.headers["Host"] = h end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.1f p50_us=%d p99_us=%d requests=%d status_errors=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99),
    summary.requests, e.status, e.connect, e.read, e.write, e.timeout))
end
