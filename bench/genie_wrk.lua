-- wrk script for bench/genie_vs_fastapi.sh: sends the API key, reports one parseable line.
-- environment: GENIE_KEY (the Bearer key)
local key = os.getenv("GENIE_KEY")
if key == nil or key == "" then
  io.stderr:write("genie_wrk.lua: GENIE_KEY is not set\n")
  os.exit(2)
end
wrk.headers["Authorization"] = "Bearer " .. key

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f rps=%.1f bytes_per_req=%.0f p50_us=%d p90_us=%d p99_us=%d max_us=%d socket_errors=%d non2xx=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    summary.requests > 0 and summary.bytes / summary.requests or 0,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
