-- One page of the job list, oldest first: listed jobs (delivered ones are not) after a cursor (an insertion
-- number, exclusive), optionally of one status and of one client. At most ARGV[9] ids are examined, so a
-- page costs O(limit) even when few jobs match; it may then be short while a next cursor is returned.
-- Returns {records, next cursor or false at the end}.
-- ARGV[4..]: status ("" for all), has client ("1"/"0"), client, cursor, limit, ids to examine at most.
local status, limit, scan = ARGV[4], tonumber(ARGV[8]), tonumber(ARGV[9])
local listing = ARGV[5] == "1" and client_listed_key(ARGV[6]) or LISTED
local ids = redis.call("ZRANGEBYSCORE", listing, "(" .. ARGV[7], "+inf", "WITHSCORES", "LIMIT", 0, scan)
local out, i = {}, 1
while i < #ids and #out < limit do
  local key = job_key(ids[i])
  local current = redis.call("HGET", key, "status")
  if current and (status == "" or current == status) then out[#out + 1] = redis.call("HGETALL", key) end
  i = i + 2
end
local next_cursor = false
if i < #ids or #ids == 2 * scan then next_cursor = ids[i - 1] end
return {out, next_cursor}
