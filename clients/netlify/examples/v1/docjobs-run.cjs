// Netlify function (v1 style, CommonJS): POST {endpoint, payload} -> the job's result, or 202 + job
// id when it takes longer than DOCJOBS_DEADLINE_MS; `?mode=async` answers 202 at once.
// The client is an ES module, so it is loaded with a dynamic import (once, then cached).
exports.handler = async (event, context) => {
  const { configFromEnv, fromEvent, handleRun } = await import('../../netlify.mjs');
  return handleRun(fromEvent(event), configFromEnv());
};
