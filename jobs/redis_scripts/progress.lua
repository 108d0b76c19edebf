-- Progress of a running job: never backwards, at most 99 (100 means done).
-- ARGV: prefix, instance, id, percent, message ("" keeps the old one), now.
local me, id = ARGV[2], ARGV[3]
local key = job_key(id)
local f = redis.call("HMGET", key, "status", "claimed_by", "progress")
if f[1] ~= "running" or fenced(f[2], me) then return false end
local progress = math.max(tonumber(f[3]) or 0, math.min(tonumber(ARGV[4]), 99))
redis.call("HSET", key, "progress", progress, "updated_at", ARGV[6])
if ARGV[5] ~= "" then redis.call("HSET", key, "message", ARGV[5]) end
return redis.call("HGETALL", key)
