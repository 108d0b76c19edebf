-- Remove a job in any state and everything that points to it. ARGV[4]: id.
local id = ARGV[4]
uncount(id)
if redis.call("EXISTS", job_key(id)) == 0 then
  forget(id)
  announce_gone(id)
  return false
end
local record = delete_job(id)
announce_gone(id)
return record
