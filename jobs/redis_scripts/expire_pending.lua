-- Pending jobs past their deadline that the caller may expire: unclaimed ones (it claims them) and its
-- own claims. Each is marked, so it is handed out once however many sweeps run. ARGV[4]: now.
local out = {}
for _, id in ipairs(redis.call("ZRANGEBYSCORE", PENDING, "-inf", ARGV[4])) do
  local key = job_key(id)
  local f = redis.call("HMGET", key, "status", "claimed_by", "expiring")
  if not f[1] then
    redis.call("ZREM", PENDING, id)
  elseif f[1] == "pending" and not f[3] and not fenced(f[2]) then
    if not f[2] then
      redis.call("ZREM", QUEUE, id)
      claim(id)
    end
    redis.call("HSET", key, "expiring", ARGV[4])
    out[#out + 1] = redis.call("HGETALL", key)
  end
end
return out
