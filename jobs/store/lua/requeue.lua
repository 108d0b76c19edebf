-- An orphaned job goes back to the head of the queue as pending, counted as a retry.
-- ARGV[4..]: id, now, attempt.
local id, now = ARGV[4], ARGV[5]
local key = job_key(id)
local f = redis.call("HMGET", key, "status", "claimed_by", "retry_count", "created_at", "timeout_seconds", "attempt")
if not is_active(f[1]) or fenced(f[2]) or stale(f[6], ARGV[6]) then return false end
if f[2] then redis.call("SREM", claimed_key(f[2]), id) end
redis.call("HDEL", key, "claimed_by", "claimed_at", "started_at", "expiring")
redis.call("HSET", key, "status", "pending", "retry_count", (tonumber(f[3]) or 0) + 1, "updated_at", now)
redis.call("ZADD", QUEUE, -redis.call("INCR", P .. ":headseq"), id)
redis.call("ZADD", PENDING, tonumber(f[4]) + tonumber(f[5]), id)
recount(id, "pending")
announce("queued", id)
return redis.call("HGETALL", key)
