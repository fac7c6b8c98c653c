-- wrk script for benchmarks/warm_mix: requests the paths listed in a file (one per line), in
-- order, each connection starting at its own offset; the report is http_stacks/report.lua's.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "../http_stacks/report.lua")
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
