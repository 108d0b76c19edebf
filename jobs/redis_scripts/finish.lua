-- An active job ends: release its limits, hold its result, and let the record expire after retention.
-- ARGV: prefix, instance, id, status, message, now, has result ("1"/"0"), result, has error, error,
-- retention ms.
local me, id, status, now = ARGV[2], ARGV[3], ARGV[4], ARGV[6]
local key = job_key(id)
local f = redis.call("HMGET", key, "status", "client", "claimed_by")
if not is_active(f[1]) or fenced(f[3], me) then return false end
release(id, f[2], f[3])
redis.call("HSET", key, "status", status, "message", ARGV[5], "finished_at", now, "updated_at", now)
redis.call("HDEL", key, "result_json", "error", "claimed_at", "expiring")
if ARGV[7] == "1" then
  redis.call("HSET", key, "result_json", ARGV[8])
  redis.call("HSET", RESULTS, id, #ARGV[8])
  redis.call("INCRBY", RESULT_BYTES, #ARGV[8])
end
if ARGV[9] == "1" then redis.call("HSET", key, "error", ARGV[10]) end
if status == "completed" then redis.call("HSET", key, "progress", 100) end
redis.call("ZADD", FINISHED, now, id)
expire_within(id, tonumber(ARGV[11]))
return redis.call("HGETALL", key)
