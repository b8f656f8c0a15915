-- wrk script of the benchmark's locality scenarios (bench/guest.sh):
-- requests /z/fNNNN (the disk image's files, 1..N) drawn from a Zipf
-- distribution. By default one connection per request (Connection:
-- close), so that every request is placed (and handed over) on its own;
-- with MODE "keepalive" no Connection field, so that each of wrk's
-- connections carries request after request (HTTP/1.1 persistent
-- connections: Socket Cloning places every request of a connection, and
-- IPVS only the connection).
--
--   wrk ... -s zipf.lua URL -- N ALPHA SEED [close|keepalive]
local cdf, n, keepalive = {}, 0, false

function init(args)
   n = tonumber(args[1]) or 400
   local alpha = tonumber(args[2]) or 1.0
   math.randomseed(tonumber(args[3]) or 1)
   keepalive = args[4] == "keepalive"
   local sum = 0
   for i = 1, n do
      sum = sum + 1 / (i ^ alpha)
      cdf[i] = sum
   end
   for i = 1, n do
      cdf[i] = cdf[i] / sum
   end
end

-- The smallest i with cdf[i] >= u (binary search).
local function draw()
   local u = math.random()
   local lo, hi = 1, n
   while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if cdf[mid] < u then lo = mid + 1 else hi = mid end
   end
   return lo
end

function request()
   local path = string.format("/z/f%04d", draw())
   if keepalive then
      return wrk.format("GET", path)
   end
   return wrk.format("GET", path, { ["Connection"] = "close" })
end
