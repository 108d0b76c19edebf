-- Jobs by status and by endpoint (delivered ones left out), and the result bytes held.
local by_status, by_endpoint = {}, {}
for _, id in ipairs(redis.call("ZRANGE", JOBS, 0, -1)) do
  local f = redis.call("HMGET", job_key(id), "status", "endpoint", "delivered_at")
  if f[1] and not f[3] then
    by_status[f[1]] = (by_status[f[1]] or 0) + 1
    by_endpoint[f[2]] = (by_endpoint[f[2]] or 0) + 1
  end
end
return {cjson.encode(by_status), cjson.encode(by_endpoint), tonumber(redis.call("GET", RESULT_BYTES) or "0")}
