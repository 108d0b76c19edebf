// The example Netlify functions, both styles, called as Netlify calls them, against the real service.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, afterEach, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import runV2 from '../examples/v2/docjobs-run.mjs';
import statusV2 from '../examples/v2/docjobs-status.mjs';
import { startService } from './service.mjs';

const require = createRequire(import.meta.url);
const runV1 = require('../examples/v1/docjobs-run.cjs');
const statusV1 = require('../examples/v1/docjobs-status.cjs');
const SITE = 'https://site.example';

const v2 = {
  async run(body, query = '') {
    const req = new Request(`${SITE}/.netlify/functions/docjobs-run${query}`, { method: 'POST', body: JSON.stringify(body) });
    const res = await runV2(req, {});
    return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.json() };
  },
  async status(jobId) {
    const res = await statusV2(new Request(`${SITE}/.netlify/functions/docjobs-status?jobId=${jobId}`), {});
    return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.json() };
  },
};

const v1 = {
  async run(body, query = {}) {
    const event = { httpMethod: 'POST', queryStringParameters: query, body: JSON.stringify(body), isBase64Encoded: false };
    return lambda(await runV1.handler(event, {}));
  },
  async status(jobId) {
    return lambda(await statusV1.handler({ httpMethod: 'GET', queryStringParameters: { jobId }, body: null }, {}));
  },
};

function lambda(result) {
  const headers = Object.fromEntries(Object.entries(result.headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { status: result.statusCode, headers, body: JSON.parse(result.body) };
}

async function pollUntilDone(style, jobId) {
  // What the browser does: poll the status function at its Retry-After until the job is over.
  for (let i = 0; i < 100; i += 1) {
    const answer = await style.status(jobId);
    if (answer.status !== 200 || answer.body.status === 'completed') return answer;
    assert.ok(answer.headers['retry-after'], 'a running job comes with Retry-After');
    await sleep(100);
  }
  throw new Error('the job did not finish');
}

describe('example Netlify functions', () => {
  let service;
  const saved = { ...process.env };
  before(async () => {
    service = await startService();
  });
  after(async () => service?.stop());
  afterEach(() => {
    for (const key of Object.keys(process.env)) if (key.startsWith('DOCJOBS_')) delete process.env[key];
    Object.assign(process.env, saved);
  });
  const configure = (extra = {}) =>
    Object.assign(process.env, {
      DOCJOBS_URL: service.url,
      DOCJOBS_API_KEY: 'test-key',
      DOCJOBS_ENDPOINTS: '/api/v1/demo/echo,/api/v1/demo/sleep,/api/v1/demo/fail',
      ...extra,
    });

  for (const [name, style] of [['v2', v2], ['v1', v1]]) {
    test(`${name}: a quick job answers 200 with its result`, async () => {
      configure();
      const answer = await style.run({ endpoint: '/api/v1/demo/echo', payload: { style: name } });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.status, 'completed');
      assert.deepEqual(answer.body.data.data, { style: name });
      assert.match(answer.body.jobId, /^job_/);
    });

    test(`${name}: async mode answers 202 at once and the browser polls the status function`, async () => {
      configure();
      const started = await style.run(
        { endpoint: '/api/v1/demo/sleep', payload: { seconds: 0.5, steps: 2 } },
        name === 'v2' ? '?mode=async' : { mode: 'async' },
      );
      assert.equal(started.status, 202);
      assert.equal(started.body.statusUrl, `/.netlify/functions/docjobs-status?jobId=${started.body.jobId}`);
      const done = await pollUntilDone(style, started.body.jobId);
      assert.equal(done.status, 200);
      assert.equal(done.body.data.message, 'Slept 0.5 s');
    });

    test(`${name}: a job outlasting the deadline answers 202 with its job id`, async () => {
      configure({ DOCJOBS_DEADLINE_MS: '600' });
      const answer = await style.run({ endpoint: '/api/v1/demo/sleep', payload: { seconds: 1.2, steps: 2 } });
      assert.equal(answer.status, 202);
      assert.ok(['pending', 'running'].includes(answer.body.status));
      configure();
      const done = await pollUntilDone(style, answer.body.jobId);
      assert.equal(done.body.data.message, 'Slept 1.2 s');
    });

    test(`${name}: a failed job is a 422 job_failed with the service's message`, async () => {
      configure();
      const answer = await style.run({ endpoint: '/api/v1/demo/fail', payload: { message: 'no such sheet' } });
      assert.equal(answer.status, 422);
      assert.equal(answer.body.error, 'job_failed');
      assert.match(answer.body.message, /no such sheet/);
    });
  }

  test('the status function reports a failed job started in async mode', async () => {
    configure({ DOCJOBS_MODE: 'async' });
    const started = await v2.run({ endpoint: '/api/v1/demo/fail', payload: { message: 'bad template' } });
    assert.equal(started.status, 202);
    const done = await pollUntilDone(v1, started.body.jobId);
    assert.equal(done.status, 422);
    assert.equal(done.body.error, 'job_failed');
    assert.match(done.body.message, /bad template/);
  });

  test('requests the functions refuse', async () => {
    configure();
    const notAllowed = await v2.run({ endpoint: '/api/v1/jobs/stats', payload: {} });
    assert.equal(notAllowed.status, 400);
    assert.equal(notAllowed.body.error, 'endpoint_not_allowed');
    const badId = await v1.status('../../stats');
    assert.equal(badId.status, 400);
    assert.equal(badId.body.error, 'invalid_job_id');
    const get = await runV2(new Request(`${SITE}/.netlify/functions/docjobs-run`), {});
    assert.equal(get.status, 405);
    const unknown = await v2.status('job_0000000000000_00000000000000000000000000000000');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error, 'job_not_found');
    delete process.env.DOCJOBS_URL;
    const unconfigured = await v1.run({ endpoint: '/api/v1/demo/echo' });
    assert.equal(unconfigured.status, 500);
    assert.equal(unconfigured.body.error, 'not_configured');
  });
});
