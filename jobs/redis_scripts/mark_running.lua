-- Pending -> running, only for this instance's claim (or an unclaimed job, which it then claims).
-- ARGV: prefix, instance, id, now.
local me, id, now = ARGV[2], ARGV[3], ARGV[4]
local key = job_key(id)
local f = redis.call("HMGET", key, "status", "claimed_by", "endpoint")
if f[1] ~= "pending" or fenced(f[2], me) then return false end
if not f[2] or f[2] == "" then
  redis.call("ZREM", QUEUE, id)
  claim_for(id, me)
end
redis.call("ZREM", PENDING, id)
redis.call("HSET", key, "status", "running", "started_at", now, "updated_at", now,
  "message", "Processing " .. f[3] .. " request...")
return redis.call("HGETALL", key)
