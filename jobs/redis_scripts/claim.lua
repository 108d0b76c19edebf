-- Pop the head of the queue and record the claimer; the job stays pending until mark_running.
-- ARGV: prefix, instance, now, lease ms.
local me, now = ARGV[2], ARGV[3]
while true do
  local head = redis.call("ZPOPMIN", QUEUE)
  if #head == 0 then return false end
  local id = head[1]
  local status = redis.call("HGET", job_key(id), "status")
  if status == "pending" then
    claim_for(id, me)
    redis.call("HSET", job_key(id), "claimed_at", now)
    -- A first claim before any heartbeat must not look like a dead instance's.
    redis.call("SET", lease_key(me), now, "PX", ARGV[4], "NX")
    return redis.call("HGETALL", job_key(id))
  end
  if not status then forget(id) end
end
