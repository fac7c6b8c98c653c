-- wrk script for benchmarks/warm_mix: requests the paths listed in a file (one per line), in
-- order, each connection starting at its own offset, then reports like http_stacks/report.lua.
local paths = {}
local next_index = 1

init = function(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  next_index = math.random(#paths)
end

request = function()
  local path = paths[next_index]
  next_index = next_index % #paths + 1
  return wrk.format("GET", path)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "JSON {\"requests\":%d,\"bytes\":%d,\"duration_us\":%d," ..
    "\"connect_errors\":%d,\"read_errors\":%d,\"write_errors\":%d," ..
    "\"status_errors\":%d,\"timeouts\":%d," ..
    "\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"max_us\":%d,\"mean_us\":%.1f}\n",
    summary.requests, summary.bytes, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50.0), latency:percentile(90.0), latency:percentile(99.0),
    latency.max, latency.mean))
end
