-- The outcome was delivered: keep the record only for the grace period from now.
-- Returns the delivery time the record keeps: an earlier one (another instance delivered it first,
-- concurrently) wins, so every first fetch answers the same retrieved_at; false when there is no record.
-- With a head size, also the result's first bytes and its length: the fetch that delivers costs one
-- round trip, and a record removed since the caller read it is never served as an empty result.
-- ARGV[4..]: id, now, grace ms, head bytes (0: the time only).
local id = ARGV[4]
local f = redis.call("HMGET", job_key(id), "status", "delivered_at")
if not f[1] then return false end
local kept = f[2]
if not kept then
  kept = ARGV[5]
  redis.call("HSET", job_key(id), "delivered_at", kept)
  redis.call("ZADD", DELIVERED, kept, id)
  uncount(id)  -- delivered results are no longer jobs (counts, lists)
  announce("changed", id)
  -- An active job keeps no expiry: its limits must be released by delete, never by a lost key.
  if not is_active(f[1]) then expire_within(id, tonumber(ARGV[6])) end
end
local head = tonumber(ARGV[7] or "0")
if head <= 0 then return kept end
return {kept, redis.call("GETRANGE", result_key(id), 0, head - 1), redis.call("STRLEN", result_key(id))}
