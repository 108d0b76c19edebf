// docjobs client for Node 20+ (global fetch, no dependencies): start a job, follow it, fetch its result.
//
//   import { runJob } from './docjobs.mjs';
//   const result = await runJob({ baseUrl, apiKey, endpoint: '/api/v1/extract', payload, deadlineMs: 8000 });
//
// Every error answer of the service becomes a thrown DocjobsError carrying the service's `error` code.

import { setTimeout as sleepFor } from 'node:timers/promises';

const JOBS = '/api/v1/jobs';
const ACTIVE = new Set(['pending', 'running']);
// Answers that mean "not now, try again": a gateway or the service is briefly unable to answer.
const RETRYABLE_STATUSES = new Set([502, 503, 504]);
// Errors raised before a connection exists: the request cannot have reached the service.
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
// Job ids as the service makes them (job_<13 digits>_<32 hex>): checked before one goes into a URL.
export const JOB_ID_PATTERN = /^job_\d{13}_[0-9a-f]{32}$/;

export const DEFAULTS = Object.freeze({
  // Netlify's synchronous functions stop after 10 s; this leaves time to answer the browser.
  deadlineMs: 8000,
  // Used when the service sends no Retry-After; polling backs off from it to maxPollIntervalMs.
  pollIntervalMs: 1000,
  maxPollIntervalMs: 5000,
  // The service holds a long poll for at most 30 s; staying under it avoids a 400.
  longPollSeconds: 25,
  requestTimeoutMs: 15000,
  // How often a GET or DELETE is retried after a dropped connection or a 502/503/504.
  retries: 4,
});

/** An error answer of the service (or a failure to reach it); `code` is the service's `error` field. */
export class DocjobsError extends Error {
  constructor(message, { code = 'error', status = null, jobId = null, retryAfter = null, body = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'DocjobsError';
    this.code = code;
    this.status = status;
    this.jobId = jobId;
    this.retryAfter = retryAfter;
    this.body = body;
  }
}

/** The overall deadline passed while the job was still going; `jobId` lets the caller resume it. */
export class DocjobsTimeoutError extends DocjobsError {
  constructor(message, { jobId = null, lastStatus = null } = {}) {
    super(message, { code: 'deadline_exceeded', jobId });
    this.name = 'DocjobsTimeoutError';
    this.lastStatus = lastStatus;
  }
}

/** Start a job and wait for its result: the handler's answer (`{success, message, data}`). */
export async function runJob(options) {
  const ctx = context(options);
  const started = await startWithRetry(ctx, options.endpoint, options.payload);
  options.onStart?.(started);
  await followJob(ctx, started.jobId, { ...options, hintMs: secondsToMs(started.retryAfter) });
  return fetchResult(ctx, started.jobId);
}

/** Wait for a job started earlier (e.g. after a DocjobsTimeoutError) and return its result. */
export async function resumeJob(options) {
  const ctx = context(options);
  const jobId = checkedJobId(options.jobId);
  await followJob(ctx, jobId, options);
  return fetchResult(ctx, jobId);
}

/** Follow a job until it ends, calling onProgress on each change; returns the final status body. */
export async function waitForJob(options) {
  return followJob(context(options), checkedJobId(options.jobId), options);
}

/** POST /jobs/start once: the 202 body plus `retryAfter` (the suggested poll interval, seconds). */
export async function startJob(options) {
  const ctx = context(options);
  const { body, response } = await request(ctx, 'POST', `${JOBS}/start`, {
    json: { endpoint: options.endpoint, payload: options.payload ?? {} },
  });
  return { ...body, retryAfter: parseRetryAfter(response.headers.get('retry-after')) };
}

/** GET /jobs/{id}/status; with `waitSeconds` the service holds the answer until the job changes. */
export async function getStatus(options) {
  const ctx = context(options);
  const jobId = checkedJobId(options.jobId);
  const wait = options.waitSeconds ?? 0;
  const { body, response } = await request(ctx, 'GET', statusPath(jobId, wait), {
    jobId,
    timeoutMs: wait > 0 ? wait * 1000 + ctx.requestTimeoutMs : undefined,
  });
  return { ...body, retryAfter: parseRetryAfter(response.headers.get('retry-after')) };
}

/** GET /jobs/{id}/result: the handler's answer; a failed job throws DocjobsError code job_failed. */
export async function getResult(options) {
  return fetchResult(context(options), checkedJobId(options.jobId));
}

/** DELETE /jobs/{id}: cancel the job (a running one has its worker stopped) and forget it. */
export async function cancelJob(options) {
  const ctx = context(options);
  const jobId = checkedJobId(options.jobId);
  const { body } = await request(ctx, 'DELETE', `${JOBS}/${jobId}`, { jobId });
  return body;
}

function context(options = {}) {
  if (!options.baseUrl) throw new TypeError('docjobs: baseUrl is required (e.g. process.env.DOCJOBS_URL)');
  const deadlineMs = options.deadlineMs ?? DEFAULTS.deadlineMs;
  return {
    baseUrl: String(options.baseUrl).replace(/\/+$/, ''),
    apiKey: options.apiKey || null,
    signal: options.signal ?? null,
    fetch: options.fetch ?? globalThis.fetch,
    deadlineAt: performance.now() + deadlineMs,
    deadlineMs,
    retries: options.retries ?? DEFAULTS.retries,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
    lastStatus: null,
  };
}

function checkedJobId(jobId) {
  if (typeof jobId !== 'string' || !JOB_ID_PATTERN.test(jobId)) {
    throw new DocjobsError(`not a job id: ${JSON.stringify(jobId)}`, { code: 'invalid_job_id', status: 400 });
  }
  return jobId;
}

const remainingMs = (ctx) => ctx.deadlineAt - performance.now();
const secondsToMs = (seconds) => (seconds == null ? null : seconds * 1000);

function statusPath(jobId, waitSeconds, since = null) {
  if (!(waitSeconds > 0)) return `${JOBS}/${jobId}/status`;
  // `since`: the service answers at once if the job changed after the last answer we saw.
  const known = since ? `&since=${encodeURIComponent(since)}` : '';
  return `${JOBS}/${jobId}/status?wait=${waitSeconds}${known}`;
}

function deadlineError(ctx, jobId) {
  const last = ctx.lastStatus;
  const where = last ? ` (job ${last.status}, ${last.progress}%: ${last.message})` : '';
  return new DocjobsTimeoutError(`docjobs: no result within ${ctx.deadlineMs} ms${where}`, {
    jobId,
    lastStatus: last,
  });
}

async function sleep(ctx, ms, jobId) {
  const left = remainingMs(ctx);
  await pause(ctx, Math.max(Math.min(ms, left), 0));
  if (ms >= left) throw deadlineError(ctx, jobId);
}

async function pause(ctx, ms) {
  try {
    await sleepFor(ms, undefined, ctx.signal ? { signal: ctx.signal } : undefined);
  } catch (error) {
    // Aborted by the caller: throw the caller's reason, as an aborted fetch does.
    throw ctx.signal?.aborted ? ctx.signal.reason : error;
  }
}

async function startWithRetry(ctx, endpoint, payload) {
  // 429 (too many jobs) and 503 (queue full, shutting down) did not create a job: waiting and trying
  // again is safe, as long as the wait ends before the deadline.
  for (;;) {
    try {
      const { body, response } = await request(ctx, 'POST', `${JOBS}/start`, {
        json: { endpoint, payload: payload ?? {} },
      });
      return { ...body, retryAfter: parseRetryAfter(response.headers.get('retry-after')) };
    } catch (error) {
      const busy = error instanceof DocjobsError && (error.status === 429 || error.status === 503);
      const waitMs = busy ? secondsToMs(error.retryAfter ?? 1) : null;
      if (!busy || waitMs >= remainingMs(ctx)) throw error;
      await pause(ctx, waitMs);
    }
  }
}

async function followJob(ctx, jobId, options) {
  const onProgress = options.onProgress ?? null;
  const baseMs = options.pollIntervalMs ?? options.hintMs ?? DEFAULTS.pollIntervalMs;
  const maxMs = Math.max(options.maxPollIntervalMs ?? DEFAULTS.maxPollIntervalMs, baseMs);
  let longPoll = options.longPoll ?? true;
  let intervalMs = baseMs;
  let last = null;
  for (let first = true; ; first = false) {
    const wait = longPoll && !first ? longPollSeconds(ctx) : 0;
    const began = performance.now();
    let status;
    try {
      ({ body: status } = await request(ctx, 'GET', statusPath(jobId, wait, last?.updated_at), {
        jobId,
        timeoutMs: wait > 0 ? wait * 1000 + ctx.requestTimeoutMs : undefined,
      }));
    } catch (error) {
      // Too many long polls at once (429), or a service that refuses `wait` (400): poll instead.
      if (wait > 0 && error instanceof DocjobsError && (error.status === 429 || error.status === 400)) {
        longPoll = false;
        await sleep(ctx, secondsToMs(error.retryAfter) ?? intervalMs, jobId);
        continue;
      }
      throw error;
    }
    const changed = !last || ['status', 'progress', 'message'].some((key) => status[key] !== last[key]);
    ctx.lastStatus = last = status;
    if (changed && onProgress) await onProgress(status);
    if (!ACTIVE.has(status.status)) return status;
    if (first && longPoll) continue;
    if (wait > 0) {
      // A service that holds long polls answers early only on a change; an early unchanged answer
      // means it ignores `wait`, so fall back to polling rather than spin.
      if (changed || performance.now() - began >= wait * 500) continue;
      longPoll = false;
    }
    intervalMs = changed ? baseMs : Math.min(intervalMs * 1.5, maxMs);
    await sleep(ctx, intervalMs, jobId);
  }
}

function longPollSeconds(ctx) {
  // Leave a second for the answer to travel; below one second a plain poll is as good.
  const seconds = Math.floor((remainingMs(ctx) - 1000) / 1000);
  return Math.max(0, Math.min(seconds, DEFAULTS.longPollSeconds));
}

async function fetchResult(ctx, jobId) {
  // GET is retried after a dropped connection: the service keeps a delivered result for a grace period.
  const { body } = await request(ctx, 'GET', `${JOBS}/${jobId}/result`, { jobId });
  return body.data;
}

async function request(ctx, method, path, { json, jobId = null, timeoutMs } = {}) {
  const idempotent = method !== 'POST';
  for (let attempt = 0; ; attempt += 1) {
    if (remainingMs(ctx) <= 0) throw deadlineError(ctx, jobId);
    let response;
    let body;
    try {
      ({ response, body } = await send(ctx, method, path, json, timeoutMs));
    } catch (error) {
      if (ctx.signal?.aborted) throw ctx.signal.reason;
      if (remainingMs(ctx) <= 0) throw deadlineError(ctx, jobId);
      // A POST that may have reached the service is not repeated: it could start a second job.
      const retry = (idempotent || notConnected(error)) && attempt < ctx.retries;
      if (!retry) throw networkError(ctx, method, path, error, jobId);
      await sleep(ctx, backoffMs(attempt), jobId);
      continue;
    }
    if (response.ok) return { response, body };
    const error = errorFromAnswer(response, body, jobId);
    if (idempotent && RETRYABLE_STATUSES.has(response.status) && attempt < ctx.retries) {
      await sleep(ctx, secondsToMs(error.retryAfter) ?? backoffMs(attempt), jobId);
      continue;
    }
    throw error;
  }
}

async function send(ctx, method, path, json, timeoutMs) {
  const limit = Math.max(1, Math.ceil(Math.min(timeoutMs ?? ctx.requestTimeoutMs, remainingMs(ctx))));
  const timer = AbortSignal.timeout(limit);
  const headers = { Accept: 'application/json' };
  if (ctx.apiKey) headers.Authorization = `Bearer ${ctx.apiKey}`;
  if (json !== undefined) headers['Content-Type'] = 'application/json';
  const response = await ctx.fetch(`${ctx.baseUrl}${path}`, {
    method,
    headers,
    body: json === undefined ? undefined : JSON.stringify(json),
    signal: ctx.signal ? AbortSignal.any([ctx.signal, timer]) : timer,
  });
  // Reading the body is part of the attempt: a connection dropped mid-body is retried like one dropped before.
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (response.ok && (body === null || typeof body !== 'object')) {
    throw new DocjobsError(`docjobs: ${method} ${path} answered ${response.status} without JSON`, {
      code: 'invalid_response',
      status: response.status,
    });
  }
  return { response, body };
}

function errorFromAnswer(response, body, jobId) {
  const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
  const fromService = body && typeof body === 'object' && typeof body.error === 'string';
  return new DocjobsError(
    fromService && body.message ? body.message : `docjobs: HTTP ${response.status} ${response.statusText}`.trim(),
    {
      code: fromService ? body.error : `http_${response.status}`,
      status: response.status,
      jobId: (body && body.jobId) || jobId,
      retryAfter,
      body,
    },
  );
}

function networkError(ctx, method, path, error, jobId) {
  if (error instanceof DocjobsError) return error;
  const timedOut = error?.name === 'TimeoutError';
  const detail = timedOut ? 'timed out' : describe(error);
  return new DocjobsError(`docjobs: ${method} ${ctx.baseUrl}${path} failed: ${detail}`, {
    code: timedOut ? 'request_timeout' : 'network_error',
    jobId,
    cause: error,
  });
}

function describe(error) {
  const codes = causes(error).map((e) => e.code || e.message).filter(Boolean);
  return codes.length ? codes.join(': ') : String(error);
}

function causes(error) {
  const found = [];
  for (let e = error, depth = 0; e && depth < 5; e = e.cause, depth += 1) {
    found.push(e);
    if (Array.isArray(e.errors)) found.push(...e.errors);
  }
  return found;
}

function notConnected(error) {
  return causes(error).some((e) => NOT_CONNECTED.has(e.code));
}

function backoffMs(attempt) {
  // 200 ms, 400 ms, 800 ms ... with jitter so that many clients do not retry in step.
  return Math.min(200 * 2 ** attempt, 5000) * (0.75 + Math.random() / 2);
}

/** Retry-After in seconds (delta-seconds or an HTTP date), or null. */
export function parseRetryAfter(value) {
  if (value == null || value === '') return null;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, (date - Date.now()) / 1000);
}
