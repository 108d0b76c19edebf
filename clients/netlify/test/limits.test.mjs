// 429 too_many_jobs on start (per_client_limit = 1): waited out within the deadline, thrown past it.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { DocjobsError, cancelJob, runJob, startJob } from '../docjobs.mjs';
import { startService } from './service.mjs';

describe('a client at its job limit', () => {
  let service;
  let baseUrl;
  before(async () => {
    service = await startService({ perClientLimit: 1 });
    baseUrl = service.url;
  });
  after(async () => service?.stop());

  test('a 429 whose Retry-After ends past the deadline is thrown at once', async () => {
    const busy = await startJob({ baseUrl, endpoint: '/api/v1/demo/sleep', payload: { seconds: 20 } });
    try {
      const began = performance.now();
      const error = await runJob({ baseUrl, endpoint: '/api/v1/demo/echo', deadlineMs: 2000 }).catch((e) => e);
      assert.ok(error instanceof DocjobsError);
      assert.equal(error.code, 'too_many_jobs');
      assert.equal(error.status, 429);
      assert.ok(error.retryAfter > 0);
      assert.ok(performance.now() - began < 1000, 'no point waiting past the deadline');
    } finally {
      await cancelJob({ baseUrl, jobId: busy.jobId });
    }
  });

  test('a 429 is retried after Retry-After when the deadline allows', async () => {
    const busy = await startJob({ baseUrl, endpoint: '/api/v1/demo/sleep', payload: { seconds: 1, steps: 1 } });
    const began = performance.now();
    const result = await runJob({ baseUrl, endpoint: '/api/v1/demo/echo', payload: { after: busy.jobId }, deadlineMs: 15000 });
    assert.deepEqual(result.data, { after: busy.jobId });
    // The service says Retry-After: 5 for a client at its limit.
    assert.ok(performance.now() - began >= 4500, 'the client waited as told');
  });
});
