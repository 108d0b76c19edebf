-- An active job ends: release its limits and reservation, drop its payload (it never runs again), hold
-- its result (in its own key, counted in its client's share), and let both expire after retention.
-- ARGV[4..]: id, status, message, now, has result ("1"/"0"), result, has error, error, retention ms,
-- end reason ("" for none), attempt.
local id, status, now = ARGV[4], ARGV[5], ARGV[7]
local key = job_key(id)
local f = redis.call("HMGET", key, "status", "client", "claimed_by", "attempt")
if not is_active(f[1]) or fenced(f[3]) or stale(f[4], ARGV[14]) then return false end
release(id, f[2], f[3])
redis.call("HSET", key, "status", status, "message", ARGV[6], "finished_at", now, "updated_at", now)
redis.call("HDEL", key, "payload", "result_json", "error", "end_reason", "claimed_at", "expiring")
if ARGV[8] == "1" then hold_result(id, f[2], ARGV[9]) end
if ARGV[10] == "1" then redis.call("HSET", key, "error", ARGV[11]) end
if ARGV[13] ~= "" then redis.call("HSET", key, "end_reason", ARGV[13]) end
if status == "completed" then redis.call("HSET", key, "progress", 100) end
redis.call("ZADD", FINISHED, now, id)
recount(id, status)
-- ARGV[15]: when the job started, if it ended before its "running" write was sent (one write for both).
if ARGV[15] ~= "" then redis.call("HSETNX", key, "started_at", ARGV[15]) end
announce("changed", id)
expire_within(id, tonumber(ARGV[12]))
return redis.call("HGETALL", key)
