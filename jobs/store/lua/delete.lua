-- Remove a job in any state and everything that points to it. ARGV[4]: id.
local id = ARGV[4]
uncount(id)
if redis.call("EXISTS", job_key(id)) == 0 then
  forget(id)
  return false
end
return delete_job(id)
