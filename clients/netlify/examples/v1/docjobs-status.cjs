// Netlify function (v1 style, CommonJS): GET ?jobId=...[&wait=seconds] -> status, then result or error.
exports.handler = async (event, context) => {
  const { configFromEnv, fromEvent, handleStatus } = await import('../../netlify.mjs');
  return handleStatus(fromEvent(event), configFromEnv());
};
