-- Claim up to ARGV[5] jobs for the caller (claim_from_queue). One script for several claims: a busy
-- instance refills every worker in one round trip.
-- ARGV[4..]: now, how many at most.
return claim_from_queue(tonumber(ARGV[5]), ARGV[4])
