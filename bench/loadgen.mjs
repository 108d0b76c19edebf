// Load generator for the jobs API: many concurrent polling clients over keep-alive HTTP.
// Written for Node 20 with no dependencies, so the client costs little CPU next to the server.
// Usage: node bench/loadgen.mjs <base-url> <scenario> [options as JSON]
import http from "node:http";
import { performance } from "node:perf_hooks";

const [baseUrl, scenario, optionsJson = "{}"] = process.argv.slice(2);
const options = JSON.parse(optionsJson);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const base = new URL(baseUrl);

function request(method, path, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: base.hostname, port: base.port, path, method, agent,
        headers: payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {},
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on("error", reject);
    if (payload) req.write(payload);
    req.end();
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

function summary(latencies) {
  const s = [...latencies].sort((a, b) => a - b);
  const r = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
  return { count: s.length, p50_ms: r(percentile(s, 0.5)), p90_ms: r(percentile(s, 0.9)), p99_ms: r(percentile(s, 0.99)), max_ms: r(s[s.length - 1]) };
}

// One job the way the design's client runs it: start, poll until not pending/running, fetch the result.
async function runJob(endpoint, payload, pollMs, counters, longPoll = false) {
  const began = performance.now();
  const started = await request("POST", "/api/v1/jobs/start", { endpoint, payload });
  counters.requests++;
  if (started.status !== 202) { counters.rejected[started.status] = (counters.rejected[started.status] || 0) + 1; return null; }
  const { jobId } = JSON.parse(started.body);
  for (;;) {
    if (pollMs > 0 && !longPoll) await sleep(pollMs);
    const st = await request("GET", `/api/v1/jobs/${jobId}/status${longPoll ? "?wait=5" : ""}`);
    counters.requests++;
    const status = JSON.parse(st.body).status;
    if (counters.pollStates) counters.pollStates[status] = (counters.pollStates[status] || 0) + 1;
    if (status !== "pending" && status !== "running") break;
  }
  const result = await request("GET", `/api/v1/jobs/${jobId}/result`);
  counters.requests++;
  if (result.status !== 200) counters.failed++;
  return performance.now() - began;
}

async function throughput({ endpoint, payload = {}, clients = 32, seconds = 10, pollMs = 2, warmupSeconds = 1 }) {
  // Jobs are counted by when they complete, inside a window that opens after a warm-up: a job
  // that waited in the queue through the warm-up still counts when it completes in the window.
  // pollStates: what the status polls answered (a poll that finds the job pending or running costs another).
  const counters = { requests: 0, failed: 0, rejected: {}, pollStates: {} };
  const latencies = [];
  const windowStart = performance.now() + warmupSeconds * 1000;
  const windowEnd = windowStart + seconds * 1000;
  let jobs = 0;
  let requestsAtStart = null;
  let requestsAtEnd = null;
  async function client() {
    while (performance.now() < windowEnd) {
      const latency = await runJob(endpoint, payload, pollMs, counters);
      const now = performance.now();
      if (requestsAtStart === null && now >= windowStart) requestsAtStart = counters.requests;
      if (latency !== null && now >= windowStart && now < windowEnd) { latencies.push(latency); jobs++; }
      if (requestsAtEnd === null && now >= windowEnd) requestsAtEnd = counters.requests;
    }
  }
  await Promise.all(Array.from({ length: clients }, client));
  const requests = (requestsAtEnd ?? counters.requests) - (requestsAtStart ?? 0);
  return { scenario: "throughput", endpoint, clients, pollMs, seconds,
    jobs, jobs_per_second: Math.round((jobs / seconds) * 10) / 10, requests_per_second: Math.round(requests / seconds),
    requests_per_job: Math.round((requests / Math.max(1, jobs)) * 100) / 100,
    failed: counters.failed, rejected: counters.rejected, poll_states: counters.pollStates,
    start_to_result: summary(latencies) };
}

async function statusUnderLoad({ clients = 8, seconds = 5, burnMs = 60000, pollMs = 0, workerCount = null }) {
  // Occupy every worker with CPU work, then measure how fast status answers come back.
  const workers = workerCount ?? JSON.parse((await request("GET", "/readyz")).body).workers;
  const burners = [];
  for (let i = 0; i < workers; i++) {
    const r = await request("POST", "/api/v1/jobs/start", { endpoint: "/api/v1/demo/cpu", payload: { milliseconds: burnMs } });
    burners.push(JSON.parse(r.body).jobId);
  }
  await sleep(500);
  const busy = JSON.parse((await request("GET", "/api/v1/jobs/stats")).body).stats.workers;
  const latencies = [];
  const end = performance.now() + seconds * 1000;
  async function client(i) {
    const jobId = burners[i % burners.length];
    while (performance.now() < end) {
      const t = performance.now();
      await request("GET", `/api/v1/jobs/${jobId}/status`);
      latencies.push(performance.now() - t);
      if (pollMs > 0) await sleep(pollMs);
    }
  }
  await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
  for (const id of burners) await request("DELETE", `/api/v1/jobs/${id}`);
  return { scenario: "status_while_workers_busy", workers_busy: busy, burners: workers, clients, pollMs, requests: latencies.length,
    requests_per_second: Math.round(latencies.length / seconds), latency: summary(latencies) };
}

async function singleClientLatency({ endpoint = "/api/v1/demo/echo", jobs = 500, pollMs = 2, longPoll = false }) {
  const counters = { requests: 0, failed: 0, rejected: {} };
  const latencies = [];
  for (let i = 0; i < 20; i++) await runJob(endpoint, {}, pollMs, counters, longPoll);
  const warmedUp = counters.requests;
  for (let i = 0; i < jobs; i++) latencies.push(await runJob(endpoint, {}, pollMs, counters, longPoll));
  // 3 requests per job: start, one poll that finds the job done, result.
  const requestsPerJob = Math.round(((counters.requests - warmedUp) / jobs) * 100) / 100;
  return { scenario: "start_to_result_single_client", endpoint, pollMs, longPoll, failed: counters.failed,
    requests_per_job: requestsPerJob, start_to_result: summary(latencies) };
}

const scenarios = { throughput, statusUnderLoad, singleClientLatency };
if (!scenarios[scenario]) { console.error(`unknown scenario ${scenario}`); process.exit(2); }
const result = await scenarios[scenario](options);
console.log(JSON.stringify(result));
agent.destroy();
