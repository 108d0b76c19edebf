-- Pop up to ARGV[5] jobs off the head of the queue for the caller, oldest first; they stay pending until
-- mark_running. One script for several claims: a busy instance refills every worker in one round trip.
-- ARGV[4..]: now, how many at most.
local out = {}
while #out < tonumber(ARGV[5]) do
  local head = redis.call("ZPOPMIN", QUEUE)
  if #head == 0 then break end
  local id = head[1]
  local status = redis.call("HGET", job_key(id), "status")
  if status == "pending" then
    claim(id)
    redis.call("HSET", job_key(id), "claimed_at", ARGV[4])
    out[#out + 1] = redis.call("HGETALL", job_key(id))
  end
  if not status then forget(id) end
  if not status then uncount(id) end
end
return out
