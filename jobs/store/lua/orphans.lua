-- Active jobs of instances whose lease expired become the caller's claims: one caller gets each.
local out = {}
for _, instance in ipairs(redis.call("SMEMBERS", INSTANCES)) do
  if instance ~= ME and redis.call("EXISTS", lease_key(instance)) == 0 then
    for _, id in ipairs(redis.call("SMEMBERS", claimed_key(instance))) do
      if is_active(redis.call("HGET", job_key(id), "status")) then
        claim(id)
        out[#out + 1] = redis.call("HGETALL", job_key(id))
      end
    end
    redis.call("DEL", claimed_key(instance))
    redis.call("SREM", INSTANCES, instance)
  end
end
return out
