-- Claims of the caller that it does not know of (the claim's reply was lost: a timeout, a dropped
-- connection) go back to the head of the queue, unclaimed; a pending job is never left claimed by a
-- live instance that will not run it. Jobs being expired are left to their expiry.
-- ARGV[4..]: the ids the caller holds (ready or in its workers).
local known = {}
for i = 4, #ARGV do known[ARGV[i]] = true end
local out = {}
for _, id in ipairs(redis.call("SMEMBERS", claimed_key(ME))) do
  if not known[id] then
    local key = job_key(id)
    local f = redis.call("HMGET", key, "status", "claimed_by", "expiring")
    if not f[1] or f[2] ~= ME then
      redis.call("SREM", claimed_key(ME), id)
    elseif f[1] == "pending" and not f[3] then
      redis.call("SREM", claimed_key(ME), id)
      redis.call("HDEL", key, "claimed_by", "claimed_at")
      redis.call("ZADD", QUEUE, -redis.call("INCR", P .. ":headseq"), id)
      out[#out + 1] = id
    end
  end
end
return out
