// Every error the HTTP service returns is JSON: { error: { code, message, parameter? } }.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiError } from '../../schema/api.ts';
import { BadParameterError } from './build-summary.ts';

export function sendError(reply: FastifyReply, status: number, code: string, message: string, parameter?: string): FastifyReply {
  const body: ApiError = { error: { code, message, ...(parameter ? { parameter } : {}) } };
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

/** The query/path parameter an ajv error is about. */
function parameterOf(e: FastifyError): string | undefined {
  const v = e.validation?.[0];
  if (!v) return undefined;
  const params = v.params as { additionalProperty?: string; missingProperty?: string };
  return params.additionalProperty ?? params.missingProperty ?? (v.instancePath.replace(/^\//, '').split('/')[0] || undefined);
}

export function errorHandler(e: FastifyError, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (e.validation) {
    const parameter = parameterOf(e);
    const v = e.validation[0];
    const where = e.validationContext === 'params' ? 'path parameter' : 'query parameter';
    const what = (v.params as { additionalProperty?: string }).additionalProperty ? `unknown ${where}` : `${where} ${v.message ?? 'is invalid'}`;
    return sendError(reply, 400, 'KILN_BAD_REQUEST', parameter ? `${what}: ${parameter}` : what, parameter);
  }
  if (e instanceof BadParameterError) return sendError(reply, 400, 'KILN_BAD_REQUEST', e.message, e.parameter);
  const code = (e as { code?: string }).code;
  if (code === 'KILN_NOT_FOUND') return sendError(reply, 404, code, e.message);
  if (code === 'KILN_USAGE') return sendError(reply, 400, 'KILN_BAD_REQUEST', e.message);
  if (code === 'KILN_UNAVAILABLE') return sendError(reply, 503, code, e.message);
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return sendError(reply, e.statusCode, 'KILN_BAD_REQUEST', e.message);
  req.log.error({ err: e, url: req.url }, 'request failed');
  return sendError(reply, 500, 'KILN_INTERNAL', 'internal error (see the server log)');
}
