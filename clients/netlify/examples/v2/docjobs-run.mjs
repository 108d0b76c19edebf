// Netlify function (v2 style): POST {endpoint, payload} -> the job's result, or 202 + job id when it
// takes longer than DOCJOBS_DEADLINE_MS (the browser then polls docjobs-status). `?mode=async` (or
// DOCJOBS_MODE=async) answers 202 at once, for functions that must return well inside 10 s.
// Copy to netlify/functions/ with docjobs.mjs and netlify.mjs in netlify/functions/lib/.
import { configFromEnv, fromRequest, handleRun, toResponse } from '../../netlify.mjs';

export default async (req, context) => toResponse(await handleRun(await fromRequest(req), configFromEnv()));
