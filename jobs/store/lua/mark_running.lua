-- Pending -> running, only for the caller's claim (or an unclaimed job, which it then claims).
-- ARGV[4..]: id, now, attempt.
local id, now = ARGV[4], ARGV[5]
local key = job_key(id)
local f = redis.call("HMGET", key, "status", "claimed_by", "attempt")
if f[1] ~= "pending" or fenced(f[2]) or stale(f[3], ARGV[6]) then return false end
if not f[2] then
  redis.call("ZREM", QUEUE, id)
  claim(id)
end
redis.call("ZREM", PENDING, id)
redis.call("HSET", key, "status", "running", "started_at", now, "updated_at", now, "message", "")
recount(id, "running")
announce("changed", id)
return state_of(id)
