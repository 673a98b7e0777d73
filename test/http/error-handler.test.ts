import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { AppError, ERROR_CATALOGUE, ErrorCode, type ErrorCode as Code } from '../../src/lib/errors.js';
import { createLogger } from '../../src/lib/logger.js';
import { installErrorHandler } from '../../src/http/error-handler.js';

describe('HTTP error handler (inject, no socket)', () => {
  let app: FastifyInstance;
  let logs: Array<Record<string, unknown>>;

  beforeEach(async () => {
    logs = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    app = Fastify({ loggerInstance: createLogger({ destination, level: 'error' }) as FastifyBaseLogger });
    installErrorHandler(app);
    app.get<{ Params: { code: string } }>('/throw/:code', async (req) => {
      throw new AppError(req.params.code as Code, `thrown with ${req.params.code}`, { details: { why: 'test' } });
    });
    app.get('/bug', async () => {
      throw new TypeError('cannot read properties of undefined');
    });
    app.get('/redis-down', async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    });
    app.get('/redis-closed', async () => {
      throw new Error('Connection is closed.');
    });
    app.post('/echo', async (req) => req.body);
    await app.ready();
  });
  afterEach(() => app.close());

  const codes = Object.values(ErrorCode);
  it.each(codes)('%s answers its catalogue status; body { error: { code, message, details } }', async (code) => {
    const res = await app.inject({ url: `/throw/${code}` });
    expect(res.statusCode).toBe(ERROR_CATALOGUE[code].httpStatus);
    expect(res.json()).toEqual({ error: { code, message: `thrown with ${code}`, details: { why: 'test' } } });
  });

  it('descriptor-fetch-failed and policy-invalid thrown in a route no longer answer 500', async () => {
    expect((await app.inject({ url: '/throw/descriptor-fetch-failed' })).statusCode).toBe(502);
    expect((await app.inject({ url: '/throw/policy-invalid' })).statusCode).toBe(422);
    expect((await app.inject({ url: '/throw/descriptor-fetch-refused' })).statusCode).toBe(422);
    expect((await app.inject({ url: '/throw/notify-failed' })).statusCode).toBe(502);
    expect((await app.inject({ url: '/throw/bulk-upgrade-refused' })).statusCode).toBe(409);
  });

  it('logs 5xx AppErrors with their code, not 4xx ones', async () => {
    await app.inject({ url: '/throw/app-not-found' });
    expect(logs).toEqual([]);
    await app.inject({ url: '/throw/store-unavailable' });
    expect(logs).toEqual([expect.objectContaining({ msg: 'request failed', code: 'store-unavailable' })]);
  });

  it.each(['/redis-down', '/redis-closed'])(
    'a Redis connection error (%s) is a 503 store-unavailable with retry-after',
    async (url) => {
      const res = await app.inject({ url });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.json()).toMatchObject({ error: { code: 'store-unavailable', details: { retryAfterSeconds: 5 } } });
      expect(res.json().error.message).toMatch(/^Redis does not answer: /);
    },
  );

  it('anything else is a logged 500 that does not show its message', async () => {
    const res = await app.inject({ url: '/bug' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: 'internal', message: 'internal error', details: {} } });
    const err = expect.objectContaining({ type: 'TypeError' });
    const logged = expect.objectContaining({ msg: 'request failed', err });
    expect(logs).toEqual([logged]);
  });

  it("Fastify's own client errors keep their status and code", async () => {
    const headers = { 'content-type': 'application/json' };
    const res = await app.inject({ method: 'POST', url: '/echo', headers, payload: '{not json' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('FST_ERR_CTP_INVALID_JSON_BODY');
  });
});
