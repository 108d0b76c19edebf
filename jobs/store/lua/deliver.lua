-- The outcome was delivered: keep the record only for the grace period from now.
-- ARGV[4..]: id, now, grace ms.
local id = ARGV[4]
local f = redis.call("HMGET", job_key(id), "status", "delivered_at")
if not f[1] or f[2] then return 0 end
redis.call("HSET", job_key(id), "delivered_at", ARGV[5])
redis.call("ZADD", DELIVERED, ARGV[5], id)
-- An active job keeps no expiry: its limits must be released by delete, never by a lost key.
if not is_active(f[1]) then expire_within(id, tonumber(ARGV[6])) end
return 1
