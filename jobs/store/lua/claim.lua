-- Pop the head of the queue for the caller; the job stays pending until mark_running.
-- ARGV[4]: now.
while true do
  local head = redis.call("ZPOPMIN", QUEUE)
  if #head == 0 then return false end
  local id = head[1]
  local status = redis.call("HGET", job_key(id), "status")
  if status == "pending" then
    claim(id)
    redis.call("HSET", job_key(id), "claimed_at", ARGV[4])
    return redis.call("HGETALL", job_key(id))
  end
  if not status then forget(id) end
  if not status then uncount(id) end
end
