-- Pending jobs past their deadline that the caller may expire: unclaimed ones (it claims them) and its
-- own claims. Each is marked, so concurrent sweeps hand it out once; a mark older than a lease (the
-- expiring caller failed to finish it) no longer counts. ARGV[4]: now.
local now = tonumber(ARGV[4])
local out = {}
for _, id in ipairs(redis.call("ZRANGEBYSCORE", PENDING, "-inf", ARGV[4])) do
  local key = job_key(id)
  local f = redis.call("HMGET", key, "status", "claimed_by", "expiring")
  local marked = f[3] and now - tonumber(f[3]) < tonumber(LEASE_MS) / 1000
  if not f[1] then
    redis.call("ZREM", PENDING, id)
    uncount(id)
  elseif f[1] == "pending" and not marked and not fenced(f[2]) then
    if not f[2] then
      redis.call("ZREM", QUEUE, id)
      claim(id)
    end
    redis.call("HSET", key, "expiring", ARGV[4])
    out[#out + 1] = redis.call("HGETALL", key)
  end
end
return out
