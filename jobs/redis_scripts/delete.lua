-- Remove a job in any state and everything that points to it. ARGV: prefix, id.
local id = ARGV[2]
if redis.call("EXISTS", job_key(id)) == 0 then
  forget(id)
  return false
end
return delete_job(id)
