// The bodies of two Netlify functions, independent of the function style (v2 Request/Response or v1
// event/handler): `handleRun` starts a job and, time permitting, returns its result; `handleStatus`
// lets a browser poll a job by id. The wrappers in examples/ adapt them to each style.
//
// Settings come from the environment, read on each call:
//   DOCJOBS_URL          the service, e.g. https://docjobs-xyz.a.run.app (required)
//   DOCJOBS_API_KEY      sent as `Authorization: Bearer <key>` when set
//   DOCJOBS_ENDPOINTS    comma-separated endpoints the browser may run (default: extract, merge, update)
//   DOCJOBS_DEADLINE_MS  how long a function waits for a result (default 8000: Netlify stops at 10 s)
//   DOCJOBS_MODE         "wait" (default) or "async": answer 202 with the job id at once
//   DOCJOBS_STATUS_PATH  where the status function is served (default /.netlify/functions/docjobs-status)

import {
  DEFAULTS,
  DocjobsError,
  DocjobsTimeoutError,
  JOB_ID_PATTERN,
  getResult,
  getStatus,
  runJob,
  startJob,
} from './docjobs.mjs';

const DEFAULT_ENDPOINTS = ['/api/v1/extract', '/api/v1/merge', '/api/v1/update'];
// A status request from the browser may be held this long at most, well inside the function's limit.
const MAX_BROWSER_WAIT_SECONDS = 5;

/** The functions' settings from environment variables. */
export function configFromEnv(env = process.env) {
  const endpoints = (env.DOCJOBS_ENDPOINTS || DEFAULT_ENDPOINTS.join(','))
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  return {
    baseUrl: env.DOCJOBS_URL || '',
    apiKey: env.DOCJOBS_API_KEY || null,
    endpoints,
    deadlineMs: Number(env.DOCJOBS_DEADLINE_MS) || DEFAULTS.deadlineMs,
    mode: env.DOCJOBS_MODE === 'async' ? 'async' : 'wait',
    statusPath: env.DOCJOBS_STATUS_PATH || '/.netlify/functions/docjobs-status',
  };
}

/**
 * POST {endpoint, payload}: start the job. In "wait" mode answer 200 with the result, or 202 with the
 * job id when the deadline comes first; in "async" mode (or `?mode=async`) answer 202 at once.
 */
export async function handleRun({ method, query, body }, config) {
  if (method !== 'POST') return answer(405, { success: false, error: 'method_not_allowed', message: 'use POST' });
  if (!config.baseUrl) return misconfigured();
  let request;
  try {
    request = JSON.parse(body || '{}');
  } catch {
    return answer(400, { success: false, error: 'invalid_json', message: 'the body must be JSON' });
  }
  // Only chosen endpoints: the browser must not be able to run anything the service offers.
  // (This is also where a real function would build the payload, e.g. from a Zoho request_id.)
  if (!request || !config.endpoints.includes(request.endpoint)) {
    return answer(400, {
      success: false,
      error: 'endpoint_not_allowed',
      message: `endpoint must be one of ${config.endpoints.join(', ')}`,
    });
  }
  const options = { baseUrl: config.baseUrl, apiKey: config.apiKey, endpoint: request.endpoint, payload: request.payload };
  const mode = query.get('mode') === 'async' ? 'async' : config.mode;
  try {
    if (mode === 'async') {
      const started = await startJob({ ...options, deadlineMs: config.deadlineMs });
      return pending(config, started.jobId, { status: 'pending', progress: 0, message: 'Job started' });
    }
    let jobId = null;
    const data = await runJob({ ...options, deadlineMs: config.deadlineMs, onStart: (s) => (jobId = s.jobId) });
    return answer(200, { success: true, jobId, status: 'completed', data });
  } catch (error) {
    if (error instanceof DocjobsTimeoutError && error.jobId) {
      return pending(config, error.jobId, error.lastStatus ?? { status: 'pending', progress: 0, message: '' });
    }
    return failure(error);
  }
}

/**
 * GET ?jobId=...[&wait=s]: the job's status while it runs (200 with Retry-After), its result once it
 * is done (200, status "completed", data), or the job's error (422 job_failed, 410 job_expired, 404).
 */
export async function handleStatus({ method, query }, config) {
  if (method !== 'GET') return answer(405, { success: false, error: 'method_not_allowed', message: 'use GET' });
  if (!config.baseUrl) return misconfigured();
  const jobId = query.get('jobId') || '';
  if (!JOB_ID_PATTERN.test(jobId)) {
    return answer(400, { success: false, error: 'invalid_job_id', message: 'jobId is missing or malformed' });
  }
  const waitSeconds = Math.min(Math.max(Number(query.get('wait')) || 0, 0), MAX_BROWSER_WAIT_SECONDS);
  const options = { baseUrl: config.baseUrl, apiKey: config.apiKey, jobId, deadlineMs: config.deadlineMs };
  try {
    const status = await getStatus({ ...options, waitSeconds: Math.floor(waitSeconds) });
    if (status.status === 'pending' || status.status === 'running') {
      return answer(200, view(status), { 'Retry-After': String(status.retryAfter ?? 1) });
    }
    // Completed: the result; failed or expired: getResult throws the service's error for it.
    const data = await getResult(options);
    return answer(200, { success: true, jobId, status: 'completed', progress: 100, data });
  } catch (error) {
    return failure(error);
  }
}

function view(status) {
  const { jobId, status: state, progress, message, updated_at: updatedAt } = status;
  return { success: true, jobId, status: state, progress, message, updated_at: updatedAt };
}

function pending(config, jobId, last) {
  const statusUrl = `${config.statusPath}?jobId=${encodeURIComponent(jobId)}`;
  return answer(
    202,
    { success: true, jobId, status: last.status, progress: last.progress, message: last.message, statusUrl },
    { Location: statusUrl, 'Retry-After': '1' },
  );
}

function failure(error) {
  if (!(error instanceof DocjobsError)) throw error;
  // The service's own 4xx answers pass through; its 5xx and network failures are a bad gateway here.
  // A deadline before the job even started (the service too slow to answer) is a gateway timeout.
  const gateway = error.code === 'deadline_exceeded' ? 504 : 502;
  const status = error.status >= 400 && error.status < 500 ? error.status : gateway;
  const headers = error.retryAfter != null ? { 'Retry-After': String(Math.ceil(error.retryAfter)) } : {};
  return answer(status, { success: false, error: error.code, message: error.message, jobId: error.jobId }, headers);
}

function misconfigured() {
  return answer(500, { success: false, error: 'not_configured', message: 'DOCJOBS_URL is not set' });
}

function answer(statusCode, body, headers = {}) {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** A v2 function's Request as the handlers' input. */
export async function fromRequest(req) {
  const url = new URL(req.url);
  return { method: req.method, query: url.searchParams, body: req.method === 'GET' ? '' : await req.text() };
}

/** The handlers' answer as a v2 function's Response. */
export function toResponse(result) {
  return new Response(result.body, { status: result.statusCode, headers: result.headers });
}

/** A v1 function's event as the handlers' input. */
export function fromEvent(event) {
  const raw = event.body ?? '';
  return {
    method: event.httpMethod,
    query: new URLSearchParams(event.queryStringParameters ?? {}),
    body: event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw,
  };
}
