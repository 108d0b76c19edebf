-- Remove finished jobs past retention and delivered ones past grace, and the index entries of records
-- that already expired. An id counts only while it is still indexed, so concurrent sweeps count it once.
-- ARGV[4..]: now, retention seconds, grace seconds, ids...
local now, retention, grace = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local finished, delivered = 0, 0
for i = 7, #ARGV do
  local id = ARGV[i]
  local was_delivered = redis.call("ZSCORE", DELIVERED, id)
  if was_delivered or redis.call("ZSCORE", FINISHED, id) then
    local key = job_key(id)
    local reason = nil
    if redis.call("EXISTS", key) == 0 then
      forget(id)
      announce_gone(id)
      reason = was_delivered and "delivered" or "finished"
    else
      local f = redis.call("HMGET", key, "delivered_at", "finished_at")
      if f[1] and now - tonumber(f[1]) >= grace then
        reason = "delivered"
      elseif f[2] and now - tonumber(f[2]) >= retention then
        reason = "finished"
      end
      if reason then
        delete_job(id)
        announce_gone(id)
      end
    end
    if reason then uncount(id) end
    if reason == "delivered" then delivered = delivered + 1 elseif reason then finished = finished + 1 end
  end
end
return {finished, delivered}
