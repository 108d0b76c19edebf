-- Admission and insertion in one step, so concurrent starts on many instances cannot pass a limit; then,
-- for an instance with idle workers, claims for it (the oldest queued jobs first, this one among them):
-- a start on an idle instance costs one round trip, not three (add, claim, a claim that finds none).
-- ARGV[4..]: id, client, idempotency key ("" for none), per-client limit, max pending, deadline, the
-- result and payload bytes the job reserves, the four budgets (jobs.budget.Budget.limits), how many
-- jobs to claim (0: none), the time of the claim, then the record's field/value pairs.
local id, client, idem = ARGV[4], ARGV[5], ARGV[6]
if idem ~= "" then
  local existing = redis.call("GET", idem_key(client, idem))
  if existing and redis.call("EXISTS", job_key(existing)) == 1 then
    return {"replay", redis.call("HGETALL", job_key(existing))}
  end
end
if redis.call("EXISTS", job_key(id)) == 1 then
  return {"replay", redis.call("HGETALL", job_key(id))}  -- the same start sent twice
end
if redis.call("SCARD", active_key(client)) >= tonumber(ARGV[7]) then return {"client_limit"} end
local pending = redis.call("ZCARD", PENDING)
if pending >= tonumber(ARGV[8]) then return {"queue_full"} end
local results, payloads = tonumber(ARGV[10]), tonumber(ARGV[11])
local over, held = over_budget(client, results, payloads, {ARGV[12], ARGV[13], ARGV[14], ARGV[15]})
if over then return {"store_full", over, held} end
redis.call("HSET", job_key(id), unpack(ARGV, 18))
reserve(id, client, results, payloads)
local seq = redis.call("INCR", P .. ":seq")
redis.call("ZADD", QUEUE, seq, id)
redis.call("ZADD", PENDING, ARGV[9], id)
redis.call("ZADD", JOBS, seq, id)
redis.call("SADD", active_key(client), id)
count_new(id, redis.call("HGET", job_key(id), "endpoint"), client, seq)
if idem ~= "" then redis.call("SET", idem_key(client, idem), id) end
announce("queued", id)
-- The queue's length with this job (the start's estimate needs it), then the jobs claimed.
return {"added", pending + 1, claim_from_queue(tonumber(ARGV[16]), ARGV[17])}
