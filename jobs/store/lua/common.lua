-- Prepended to every script. Every script gets ARGV[1] the key prefix, ARGV[2] the calling instance and
-- ARGV[3] its lease in ms; its own arguments start at ARGV[4]. Every key is built from the prefix, so a
-- prefix with a hash tag ("{docjobs}") keeps a deployment's keys in one cluster slot.
local P, ME, LEASE_MS = ARGV[1], ARGV[2], ARGV[3]
local QUEUE = P .. ":queue"            -- zset: job ids waiting for a claim, by position (FIFO)
local PENDING = P .. ":pending"        -- zset: every pending job (queued or claimed), by deadline
local JOBS = P .. ":jobs"              -- zset: every job id, by insertion order (listing)
local FINISHED = P .. ":finished"      -- zset: finished job ids, by finished_at
local DELIVERED = P .. ":delivered"    -- zset: delivered job ids, by delivered_at
local RESULTS = P .. ":results"        -- hash: job id -> bytes of result held
local RESULT_BYTES = P .. ":result_bytes"
local RESULT_OWNERS = P .. ":result_owners"  -- hash: job id -> the client whose share its result is in
-- hash: bytes held and reserved (jobs/budget.py): "results" and "payloads" in total, "results:<client>"
-- and "payloads:<client>" per client; a client holding nothing has no field.
local BUDGET = P .. ":budget"
local INSTANCES = P .. ":instances"    -- set: instances that may hold claims

local function job_key(id) return P .. ":job:" .. id end
local function active_key(client) return P .. ":active:" .. client end
local function claimed_key(instance) return P .. ":claimed:" .. instance end
local function lease_key(instance) return P .. ":lease:" .. instance end
local function result_key(id) return P .. ":result:" .. id end  -- string: the result's JSON, as the worker sent it
local function idem_key(client, key) return P .. ":idem:" .. #client .. ":" .. client .. ":" .. key end

local function is_active(status) return status == "pending" or status == "running" end

-- Claimed by another instance: that one runs it, so this one must not write its state.
local function fenced(owner) return owner and owner ~= "" and owner ~= ME end

-- Every claim starts a new attempt (the record's "attempt" counter). A write names the attempt it speaks
-- for ("" when unknown, unchecked): a late write of an earlier attempt is refused even when the same
-- instance has claimed the job again, or when the job went back to the queue unclaimed.
local function stale(current, attempt) return attempt ~= "" and (current or "0") ~= attempt end

-- The caller takes the job. Its lease is created if missing: a claim made before the instance's first
-- heartbeat must not look like a dead instance's.
local function claim(id)
  redis.call("HSET", job_key(id), "claimed_by", ME)
  redis.call("HINCRBY", job_key(id), "attempt", 1)
  redis.call("SADD", claimed_key(ME), id)
  redis.call("SADD", INSTANCES, ME)
  redis.call("SET", lease_key(ME), "claimed", "PX", LEASE_MS, "NX")
end

-- Add `delta` bytes (negative: release) to what `client` holds of `kind` ("results" or "payloads").
local function budget_add(kind, client, delta)
  if delta == 0 then return end
  redis.call("HINCRBY", BUDGET, kind, delta)
  local field = kind .. ":" .. client
  if redis.call("HINCRBY", BUDGET, field, delta) <= 0 then redis.call("HDEL", BUDGET, field) end
end

-- The first budget (1-4: client results, results, client payloads, payloads; a limit of 0 is none)
-- that reserving `results` and `payloads` bytes for `client` would overshoot, and what it holds.
local function over_budget(client, results, payloads, limits)
  local held = redis.call("HMGET", BUDGET, "results:" .. client, "results", "payloads:" .. client, "payloads")
  local asked = {results, results, payloads, payloads}
  for i = 1, 4 do
    local limit, now = tonumber(limits[i]), tonumber(held[i] or "0")
    if limit > 0 and now + asked[i] > limit then return i, now end
  end
  return nil
end

-- A new job's reservation, kept on its record so that its end gives back exactly what it took.
local function reserve(id, client, results, payloads)
  budget_add("results", client, results)
  budget_add("payloads", client, payloads)
  redis.call("HSET", job_key(id), "reserved_results", results, "reserved_payloads", payloads)
end

local function unreserve(id, client)
  local f = redis.call("HMGET", job_key(id), "reserved_results", "reserved_payloads")
  budget_add("results", client, -(tonumber(f[1]) or 0))
  budget_add("payloads", client, -(tonumber(f[2]) or 0))
  redis.call("HDEL", job_key(id), "reserved_results", "reserved_payloads")
end

-- Take an active job out of the queue, its client's count, its claimer's list and the budgets.
local function release(id, client, owner)
  unreserve(id, client)
  redis.call("ZREM", QUEUE, id)
  redis.call("ZREM", PENDING, id)
  redis.call("SREM", active_key(client), id)
  if owner then
    redis.call("SREM", claimed_key(owner), id)
    redis.call("HDEL", job_key(id), "claimed_by")
  end
end

-- The result lives in a key of its own: status reads (HGETALL of the record) never carry it, and a
-- fetch streams it with GETRANGE. It counts in its client's share until it is dropped.
local function hold_result(id, client, result)
  redis.call("SET", result_key(id), result)
  redis.call("HSET", RESULTS, id, #result)
  redis.call("HSET", RESULT_OWNERS, id, client)
  redis.call("INCRBY", RESULT_BYTES, #result)
  budget_add("results", client, #result)
end

local function drop_result(id)
  redis.call("DEL", result_key(id))
  local bytes = redis.call("HGET", RESULTS, id)
  if bytes then
    redis.call("HDEL", RESULTS, id)
    redis.call("DECRBY", RESULT_BYTES, bytes)
    local owner = redis.call("HGET", RESULT_OWNERS, id)
    if owner then
      redis.call("HDEL", RESULT_OWNERS, id)
      budget_add("results", owner, -tonumber(bytes))
    end
  end
end

-- The record without its payload (up to server.max_body_bytes), for replies that only report a state
-- change: only the runner needs the payload, and it gets it from the claim.
local function state_of(id)
  local names = {}
  for _, name in ipairs(redis.call("HKEYS", job_key(id))) do
    if name ~= "payload" then names[#names + 1] = name end
  end
  if #names == 0 then return {} end
  local values = redis.call("HMGET", job_key(id), unpack(names))
  local out = {}
  for i, name in ipairs(names) do
    out[#out + 1] = name
    out[#out + 1] = values[i]
  end
  return out
end

-- Remove every index entry of a job whose record is gone (or about to be).
local function forget(id)
  redis.call("ZREM", JOBS, id)
  redis.call("ZREM", FINISHED, id)
  redis.call("ZREM", DELIVERED, id)
  redis.call("ZREM", QUEUE, id)
  redis.call("ZREM", PENDING, id)
  drop_result(id)
end

-- Delete an existing record and everything that points to it; returns the record as it was.
local function delete_job(id)
  local key = job_key(id)
  local record = redis.call("HGETALL", key)
  local f = redis.call("HMGET", key, "status", "client", "claimed_by", "idempotency_key")
  if is_active(f[1]) then release(id, f[2], f[3]) end
  if f[4] then
    local ik = idem_key(f[2], f[4])
    if redis.call("GET", ik) == id then redis.call("DEL", ik) end
  end
  forget(id)
  redis.call("DEL", key)
  return record
end

-- Expire the record (and its idempotency key) after `ms`, unless it already expires sooner.
local function expire_within(id, ms)
  local key = job_key(id)
  local f = redis.call("HMGET", key, "client", "idempotency_key")
  local ttl = redis.call("PTTL", key)
  if ttl >= 0 and ttl < ms then ms = ttl end
  local ik = f[2] and idem_key(f[1], f[2])
  if ik and redis.call("GET", ik) ~= id then ik = nil end
  if ms <= 0 then
    redis.call("DEL", key, result_key(id))
    if ik then redis.call("DEL", ik) end
    return
  end
  redis.call("PEXPIRE", key, ms)
  redis.call("PEXPIRE", result_key(id), ms)  -- the result goes with its record
  if ik then redis.call("PEXPIRE", ik, ms) end
end

-- Counters: the jobs held by status and endpoint, overall and per client, kept by every script that
-- changes a job's status, so counts, stats and list totals never walk the jobs. A job is counted (and
-- listed) from add until it is delivered or removed. TALLY says what it is counted under, so a change
-- moves it once, and the sweep of a record that already expired by TTL still knows what to uncount.
local TALLY = P .. ":tally"            -- hash: job id -> "status\tendpoint\tclient" it is counted under
local COUNTS = P .. ":counts"          -- hash: "status\tendpoint" -> jobs counted
local LISTED = P .. ":listed"          -- zset: counted job ids, by insertion order (the job list)
local function client_counts_key(client) return P .. ":counts:" .. #client .. ":" .. client end
local function client_listed_key(client) return P .. ":listed:" .. #client .. ":" .. client end

local function add_count(key, field, by)
  if redis.call("HINCRBY", key, field, by) <= 0 then redis.call("HDEL", key, field) end
end

local function move_count(status, endpoint, client, by)
  add_count(COUNTS, status .. "\t" .. endpoint, by)
  add_count(client_counts_key(client), status .. "\t" .. endpoint, by)
end

local function tally_of(id)
  local entry = redis.call("HGET", TALLY, id)
  if not entry then return nil end
  return string.match(entry, "^([^\t]*)\t([^\t]*)\t(.*)$")
end

-- A new job (pending, insertion number `seq`) is counted and listed.
local function count_new(id, endpoint, client, seq)
  redis.call("HSET", TALLY, id, "pending\t" .. endpoint .. "\t" .. client)
  move_count("pending", endpoint, client, 1)
  redis.call("ZADD", LISTED, seq, id)
  redis.call("ZADD", client_listed_key(client), seq, id)
end

-- A counted job now has `status`; a job no longer counted (delivered, removed) stays uncounted.
local function recount(id, status)
  local old, endpoint, client = tally_of(id)
  if not old or old == status then return end
  move_count(old, endpoint, client, -1)
  move_count(status, endpoint, client, 1)
  redis.call("HSET", TALLY, id, status .. "\t" .. endpoint .. "\t" .. client)
end

-- The job is delivered or removed: it is neither counted nor listed any more.
local function uncount(id)
  local old, endpoint, client = tally_of(id)
  if not old then return end
  move_count(old, endpoint, client, -1)
  redis.call("HDEL", TALLY, id)
  redis.call("ZREM", LISTED, id)
  redis.call("ZREM", client_listed_key(client), id)
end

-- A write announces itself to every instance (long polls, event streams, idle dispatchers, status caches)
-- from inside its script: no second round trip per change, and only a write that landed is announced.
-- Each change a status read can see bumps the record's revision ("rev"), and the announcement carries it:
-- an instance caching status reads (jobs/store/status_cache.py) drops what is older. A removed record is
-- announced with revision 0, which supersedes any.
local function announce(kind, id)
  local rev = redis.call("HINCRBY", job_key(id), "rev", 1)
  redis.call("PUBLISH", P .. ":events", cjson.encode({kind, id, rev}))
end

local function announce_gone(id) redis.call("PUBLISH", P .. ":events", cjson.encode({"changed", id, 0})) end

-- Pop up to `limit` jobs off the head of the queue for the caller, oldest first; they stay pending until
-- mark_running. Returns their records. (claim.lua, and add.lua for an instance with idle workers.)
local function claim_from_queue(limit, now)
  local out = {}
  while #out < limit do
    local head = redis.call("ZPOPMIN", QUEUE)
    if #head == 0 then break end
    local id = head[1]
    local status = redis.call("HGET", job_key(id), "status")
    if status == "pending" then
      claim(id)
      redis.call("HSET", job_key(id), "claimed_at", now)
      out[#out + 1] = redis.call("HGETALL", job_key(id))
    end
    if not status then forget(id) end
    if not status then uncount(id) end
  end
  return out
end
