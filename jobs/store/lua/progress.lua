-- Progress of a running job: never backwards, at most 99 (100 means done).
-- ARGV[4..]: id, percent, message ("" keeps the old one), now, attempt.
local id = ARGV[4]
local key = job_key(id)
local f = redis.call("HMGET", key, "status", "claimed_by", "progress", "attempt")
if f[1] ~= "running" or fenced(f[2]) or stale(f[4], ARGV[8]) then return false end
local progress = math.max(tonumber(f[3]) or 0, math.min(tonumber(ARGV[5]), 99))
redis.call("HSET", key, "progress", progress, "updated_at", ARGV[7])
if ARGV[6] ~= "" then redis.call("HSET", key, "message", ARGV[6]) end
announce("changed", id)
return state_of(id)
