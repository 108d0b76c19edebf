// docjobs.mjs against the real service: results, progress, errors, deadlines, cancels, dropped answers.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  DocjobsError,
  DocjobsTimeoutError,
  cancelJob,
  getResult,
  getStatus,
  parseRetryAfter,
  resumeJob,
  runJob,
  startJob,
} from '../docjobs.mjs';
import { startProxy, startService } from './service.mjs';

const SLEEP = '/api/v1/demo/sleep';

describe('docjobs client', () => {
  let service;
  let baseUrl;
  before(async () => {
    service = await startService();
    baseUrl = service.url;
  });
  after(async () => service?.stop());

  test('runJob returns the handler result', async () => {
    const result = await runJob({ baseUrl, endpoint: '/api/v1/demo/echo', payload: { hello: 'world' } });
    assert.deepEqual(result, { success: true, message: 'Echoed the payload', data: { hello: 'world' } });
  });

  test('progress is reported on each change, increasing to 100, with long polls', async () => {
    const seen = [];
    const result = await runJob({
      baseUrl,
      endpoint: SLEEP,
      payload: { seconds: 0.8, steps: 4 },
      deadlineMs: 15000,
      onProgress: (s) => seen.push(s),
    });
    assert.equal(result.success, true);
    const progress = seen.map((s) => s.progress);
    assert.ok(seen.length >= 3, `too few progress reports: ${JSON.stringify(progress)}`);
    assert.deepEqual(progress, [...progress].sort((a, b) => a - b), 'progress never goes back');
    assert.equal(seen.at(-1).status, 'completed');
    assert.equal(progress.at(-1), 100);
    assert.ok(seen.some((s) => s.status === 'running' && s.progress > 0 && s.progress < 100), JSON.stringify(seen));
  });

  test('long polls learn of each change at once, with one request per change', async () => {
    const proxy = await startProxy(baseUrl);
    const changes = [];
    try {
      await runJob({
        baseUrl: proxy.url,
        endpoint: SLEEP,
        payload: { seconds: 0.9, steps: 3 },
        deadlineMs: 15000,
        onProgress: (s) => changes.push(s.progress),
      });
    } finally {
      await proxy.stop();
    }
    const polls = proxy.seen.filter((r) => r.url.includes('/status'));
    assert.ok(polls.some((r) => r.url.includes('?wait=')), 'long polls were used');
    assert.ok(polls.length <= changes.length + 1, `${polls.length} status requests for ${changes.length} changes`);
  });

  test('a service that ignores wait is polled instead, not hammered', async () => {
    const proxy = await startProxy(baseUrl, { rewrite: (url) => url.replace(/\?wait=\d+$/, '') });
    try {
      const result = await runJob({ baseUrl: proxy.url, endpoint: SLEEP, payload: { seconds: 0.6, steps: 2 } });
      assert.equal(result.success, true);
    } finally {
      await proxy.stop();
    }
    const polls = proxy.seen.filter((r) => r.url.includes('/status'));
    assert.ok(polls.length <= 5, `${polls.length} status requests for a 0.6 s job`);
  });

  test('plain polling at a given interval reaches the result too', async () => {
    const seen = [];
    const result = await runJob({
      baseUrl,
      endpoint: SLEEP,
      payload: { seconds: 0.6, steps: 3 },
      longPoll: false,
      pollIntervalMs: 100,
      deadlineMs: 15000,
      onProgress: (s) => seen.push(s.progress),
    });
    assert.equal(result.message, 'Slept 0.6 s');
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
    assert.equal(seen.at(-1), 100);
  });

  test('a failed job throws DocjobsError job_failed with the handler message', async () => {
    const error = await runJob({ baseUrl, endpoint: '/api/v1/demo/fail', payload: { message: 'sheet is gone' } }).then(
      () => assert.fail('should have thrown'),
      (e) => e,
    );
    assert.ok(error instanceof DocjobsError);
    assert.equal(error.code, 'job_failed');
    assert.equal(error.status, 422);
    assert.match(error.message, /sheet is gone/);
    assert.match(error.jobId, /^job_\d{13}_[0-9a-f]{32}$/);
  });

  test('the deadline throws DocjobsTimeoutError with the job id, and the job can be resumed', async () => {
    const began = performance.now();
    const error = await runJob({
      baseUrl,
      endpoint: SLEEP,
      payload: { seconds: 1.5, steps: 3 },
      deadlineMs: 500,
    }).then(
      () => assert.fail('should have timed out'),
      (e) => e,
    );
    assert.ok(performance.now() - began < 1400, 'the deadline is kept');
    assert.ok(error instanceof DocjobsTimeoutError);
    assert.equal(error.code, 'deadline_exceeded');
    assert.ok(['pending', 'running'].includes(error.lastStatus.status));
    const result = await resumeJob({ baseUrl, jobId: error.jobId, deadlineMs: 15000 });
    assert.equal(result.message, 'Slept 1.5 s');
  });

  test('a bad payload and an unknown endpoint are the service errors', async () => {
    const bad = await startJob({ baseUrl, endpoint: SLEEP, payload: { seconds: -1 } }).catch((e) => e);
    assert.equal(bad.code, 'invalid_payload');
    assert.equal(bad.status, 400);
    assert.match(bad.message, /seconds/);
    const unknown = await runJob({ baseUrl, endpoint: '/api/v1/nope', payload: {} }).catch((e) => e);
    assert.equal(unknown.code, 'endpoint_not_allowed');
  });

  test('startJob, getStatus, cancelJob: a cancelled job is gone', async () => {
    const started = await startJob({ baseUrl, endpoint: SLEEP, payload: { seconds: 20 } });
    assert.equal(started.status, 'started');
    assert.ok(started.retryAfter >= 1);
    const status = await getStatus({ baseUrl, jobId: started.jobId });
    assert.ok(['pending', 'running'].includes(status.status));
    const notReady = await getResult({ baseUrl, jobId: started.jobId }).catch((e) => e);
    assert.equal(notReady.code, 'job_not_ready');
    assert.equal(notReady.status, 409);
    const cancelled = await cancelJob({ baseUrl, jobId: started.jobId });
    assert.equal(cancelled.success, true);
    const gone = await getStatus({ baseUrl, jobId: started.jobId }).catch((e) => e);
    assert.equal(gone.code, 'job_not_found');
    assert.equal(gone.status, 404);
  });

  test('a result answer lost on the way is fetched again, and the API key is sent', async () => {
    let dropped = 0;
    const proxy = await startProxy(baseUrl, { drop: (req) => req.url.endsWith('/result') && dropped++ === 0 });
    try {
      const result = await runJob({
        baseUrl: proxy.url,
        apiKey: 'secret-key',
        endpoint: '/api/v1/demo/echo',
        payload: { n: 1 },
      });
      assert.deepEqual(result.data, { n: 1 });
    } finally {
      await proxy.stop();
    }
    const results = proxy.seen.filter((r) => r.url.endsWith('/result'));
    assert.equal(results.length, 2, 'the first answer was dropped, the second delivered');
    assert.ok(proxy.seen.every((r) => r.authorization === 'Bearer secret-key'));
  });

  test('a 503 on a GET is retried after its Retry-After', async () => {
    let refused = 0;
    const proxy = await startProxy(baseUrl, { unavailable: (req) => req.url.includes('/status') && refused++ === 0 });
    try {
      const started = await startJob({ baseUrl: proxy.url, endpoint: '/api/v1/demo/echo' });
      const began = performance.now();
      const status = await getStatus({ baseUrl: proxy.url, jobId: started.jobId });
      assert.equal(status.jobId, started.jobId);
      assert.ok(performance.now() - began >= 900, 'Retry-After: 1 was honoured');
    } finally {
      await proxy.stop();
    }
    assert.equal(proxy.seen.filter((r) => r.url.includes('/status')).length, 2);
  });

  test('an unreachable service is a network_error', async () => {
    const proxy = await startProxy(baseUrl);
    await proxy.stop();
    const error = await runJob({ baseUrl: proxy.url, endpoint: '/api/v1/demo/echo', retries: 1 }).catch((e) => e);
    assert.ok(error instanceof DocjobsError);
    assert.equal(error.code, 'network_error');
    assert.match(error.message, /ECONNREFUSED/);
  });

  test('an abort signal stops the wait with its reason', async () => {
    let jobId;
    const controller = new AbortController();
    const reason = new Error('user went away');
    setTimeout(() => controller.abort(reason), 300);
    const error = await runJob({
      baseUrl,
      endpoint: SLEEP,
      payload: { seconds: 3, steps: 1 },
      longPoll: false,
      pollIntervalMs: 100,
      signal: controller.signal,
      onStart: (s) => (jobId = s.jobId),
    }).catch((e) => e);
    assert.equal(error, reason);
    await cancelJob({ baseUrl, jobId });
  });

  test('a malformed job id is refused before any request', async () => {
    const error = await getStatus({ baseUrl, jobId: '../stats' }).catch((e) => e);
    assert.equal(error.code, 'invalid_job_id');
  });
});

test('Retry-After is read as seconds or as an HTTP date', () => {
  assert.equal(parseRetryAfter('5'), 5);
  assert.equal(parseRetryAfter(null), null);
  assert.equal(parseRetryAfter('soon'), null);
  const inTen = new Date(Date.now() + 10000).toUTCString();
  assert.ok(Math.abs(parseRetryAfter(inTen) - 10) <= 1);
});
