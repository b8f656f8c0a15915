-- wrk script of the benchmark's locality scenario (bench/guest.sh):
-- requests /z/fNNNN (the disk image's files, 1..N) drawn from a Zipf
-- distribution, one connection per request (Connection: close), so that
-- every request is placed (and handed over) on its own.
--
--   wrk ... -s zipf.lua URL -- N ALPHA SEED
local cdf, n = {}, 0

function init(args)
   n = tonumber(args[1]) or 400
   local alpha = tonumber(args[2]) or 1.0
   math.randomseed(tonumber(args[3]) or 1)
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
   return wrk.format("GET", string.format("/z/f%04d", draw()), { ["Connection"] = "close" })
end
