// Netlify function (v2 style): GET ?jobId=...[&wait=seconds] -> the job's status while it runs (poll
// again after Retry-After), then its result (status "completed", data) or its error.
import { configFromEnv, fromRequest, handleStatus, toResponse } from '../../netlify.mjs';

export default async (req, context) => toResponse(await handleStatus(await fromRequest(req), configFromEnv()));
