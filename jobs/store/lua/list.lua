-- Jobs in insertion order, optionally of one status; delivered ones are left out.
-- ARGV[4]: status ("" for all).
local out = {}
for _, id in ipairs(redis.call("ZRANGE", JOBS, 0, -1)) do
  local key = job_key(id)
  local f = redis.call("HMGET", key, "status", "delivered_at")
  if f[1] and not f[2] and (ARGV[4] == "" or f[1] == ARGV[4]) then
    out[#out + 1] = redis.call("HGETALL", key)
  end
end
return out
