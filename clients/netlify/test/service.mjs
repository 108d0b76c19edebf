// Test helpers: run the real Python service (`python server.py`) on a free loopback port, and a small
// HTTP proxy in front of it that can drop chosen requests.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const VENV_PYTHON = join(ROOT, '.venv/bin/python');
const PYTHON = process.env.DOCJOBS_PYTHON || (existsSync(VENV_PYTHON) ? VENV_PYTHON : 'python3');

export const DEMO_CONFIG = `
[server]
shutdown_grace_seconds = 1
use_uvloop = false

[pool]
workers = 2

[jobs]
per_client_limit = {limit}
timeout_seconds = 30

[endpoints]
"/api/v1/demo/echo" = { handler = "handlers.demo:echo", estimated_seconds = 1 }
"/api/v1/demo/sleep" = { handler = "handlers.demo:sleep", validator = "handlers.demo:validate_sleep", estimated_seconds = 1 }
"/api/v1/demo/fail" = { handler = "tests.fault_handlers:fail", estimated_seconds = 1 }
`;

async function freePort() {
  const server = net.createServer();
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

/** Start the service with the demo endpoints; `stop()` ends it (SIGTERM, then SIGKILL). */
export async function startService({ perClientLimit = 10 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'docjobs-node-'));
  const config = join(dir, 'config.toml');
  writeFileSync(config, DEMO_CONFIG.replace('{limit}', String(perClientLimit)));
  const port = await freePort();
  const child = spawn(PYTHON, ['server.py', '--config', config, '--port', String(port), '--log-level', 'WARNING'], {
    cwd: ROOT,
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let logs = '';
  child.stderr.on('data', (chunk) => (logs += chunk));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${logs}`);
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) return { url, stop, logs: () => logs };
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  await stop();
  throw new Error(`server did not come up:\n${logs}`);
}

/**
 * A proxy to `target` that passes requests through (their URL through `rewrite`), except:
 * - a request `unavailable(req)` picks gets a 503 with Retry-After: 1;
 * - a request `drop(req)` picks is forwarded, the service's full answer read, and then the client's
 *   connection is reset instead of answering: the answer is lost after the service made it.
 */
export async function startProxy(target, { drop = () => false, rewrite = (url) => url, unavailable = () => false } = {}) {
  const seen = [];
  const server = http.createServer(async (req, res) => {
    seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization ?? null });
    if (unavailable(req)) {
      // As a busy service or gateway answers: nothing done, come back after Retry-After.
      res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '1' });
      res.end(JSON.stringify({ success: false, error: 'queue_full', message: 'busy, try again' }));
      return;
    }
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const headers = { ...req.headers };
    delete headers.host;
    delete headers.connection;
    const upstream = await fetch(`${target}${rewrite(req.url)}`, {
      method: req.method,
      headers,
      body: chunks.length ? Buffer.concat(chunks) : undefined,
    });
    const body = Buffer.from(await upstream.arrayBuffer());
    if (drop(req)) {
      req.socket.resetAndDestroy();
      return;
    }
    const out = {};
    upstream.headers.forEach((value, key) => {
      if (!['content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(key)) out[key] = value;
    });
    res.writeHead(upstream.status, out);
    res.end(body);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${server.address().port}`;
  const stop = () =>
    new Promise((ok) => {
      server.closeAllConnections();
      server.close(ok);
    });
  return { url, seen, stop };
}
