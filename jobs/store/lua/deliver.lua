-- The outcome was delivered: keep the record only for the grace period from now.
-- Returns the delivery time the record keeps: an earlier one (another instance delivered it first,
-- concurrently) wins, so every first fetch answers the same retrieved_at; false when there is no record.
-- ARGV[4..]: id, now, grace ms.
local id = ARGV[4]
local f = redis.call("HMGET", job_key(id), "status", "delivered_at")
if not f[1] then return false end
if f[2] then return f[2] end
redis.call("HSET", job_key(id), "delivered_at", ARGV[5])
redis.call("ZADD", DELIVERED, ARGV[5], id)
uncount(id)  -- delivered results are no longer jobs (counts, lists)
-- An active job keeps no expiry: its limits must be released by delete, never by a lost key.
if not is_active(f[1]) then expire_within(id, tonumber(ARGV[6])) end
return ARGV[5]
