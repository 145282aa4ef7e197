// Why a consumer lookup failed decides what the agent does next.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JetStreamApiError } from '@nats-io/jetstream';
import { errors } from '@nats-io/transport-node';
import { bindErrorKind } from '../../agents/bind-consumer.ts';
import { retryPolicy } from '../../schema/retry.ts';

const api = (code: number, description: string) => new JetStreamApiError({ code: 404, err_code: code, description });

test('agent bind - lookup failures: not there yet waits, refused stops, anything else backs off', () => {
  const cases: { name: string; error: unknown; want: string; retry: boolean }[] = [
    { name: 'consumer not created yet', error: api(10014, 'consumer not found'), want: 'waiting', retry: true },
    { name: 'stream not created yet', error: api(10059, 'stream not found'), want: 'waiting', retry: true },
    {
      name: 'no permission (the request error carries the violation)',
      error: new errors.RequestError('Permissions Violation', { cause: new errors.PermissionViolationError('Permissions Violation for Publish', 'publish', '$JS.API.CONSUMER.INFO.KILN_BUILDS.x') }),
      want: 'usage',
      retry: false,
    },
    { name: 'authorization', error: new errors.AuthorizationError('Authorization Violation'), want: 'usage', retry: false },
    { name: 'JetStream not enabled', error: Object.assign(new Error('jetstream is not enabled'), { name: 'JetStreamNotEnabled' }), want: 'usage', retry: false },
    { name: 'timeout', error: new errors.TimeoutError(), want: 'transient', retry: true },
    { name: 'another API error', error: api(10008, 'jetstream temporarily unavailable'), want: 'transient', retry: true },
  ];
  for (const c of cases) {
    const kind = bindErrorKind(c.error);
    assert.equal(kind, c.want, c.name);
    assert.equal(retryPolicy(kind).retry, c.retry, `${c.name}: retried`);
  }
});
