-- Jobs counted by status and endpoint, overall or of one client, and the result bytes held: read from the
-- counters the scripts keep (common.lua), so O(statuses x endpoints), never O(jobs).
-- ARGV[4..]: has client ("1"/"0"), client.
local key = ARGV[4] == "1" and client_counts_key(ARGV[5]) or COUNTS
return {redis.call("HGETALL", key), tonumber(redis.call("GET", RESULT_BYTES) or "0")}
