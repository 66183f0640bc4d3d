-- wrk script for bench/gateways.sh: POSTs one JSON body (the benchmark's TestQuery) on every
-- request and, when the run ends, prints one machine-readable line that the script parses.
-- The body is read from the file named by the environment variable WRK_BODY_FILE.

local path = os.getenv("WRK_BODY_FILE")
if not path then
  error("WRK_BODY_FILE is not set")
end
local file = assert(io.open(path, "rb"))
local body = file:read("*a")
file:close()

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = body

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKRESULT requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d p50_us=%d p99_us=%d mean_us=%.1f\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
