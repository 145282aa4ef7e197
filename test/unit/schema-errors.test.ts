// Error kinds decide what happens next: the kind is set where an error is
// thrown, survives the wire, and maps to one retry policy and one exit code.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exitCodeFor, EXIT } from '../../reconciler/cli/exit-code.ts';
import {
  AgentInfraError,
  ERROR_KINDS,
  errorFromJSON,
  errorToJSON,
  InvalidMetadataError,
  isResourceError,
  kindOf,
  LeaseHeldError,
  NatsConnectError,
  SigningError,
  SourceResolveError,
  UsageError,
  type ErrorKind,
} from '../../schema/errors.ts';
import { backoff, failureClassForKind, retryPolicy, type RetryPolicy } from '../../schema/retry.ts';

test('schema errors - kind → retry policy, failure class and exit code', () => {
  const table: { kind: ErrorKind; policy: RetryPolicy; failureClass: string; exit: number }[] = [
    { kind: 'terminal', policy: { retry: false }, failureClass: 'build', exit: EXIT.problems },
    { kind: 'usage', policy: { retry: false }, failureClass: 'infra', exit: EXIT.usage },
    { kind: 'transient', policy: { retry: true, delay: 'backoff' }, failureClass: 'infra', exit: EXIT.transient },
    { kind: 'waiting', policy: { retry: true, delay: 'poll' }, failureClass: 'infra', exit: EXIT.transient },
  ];
  assert.deepEqual(table.map((r) => r.kind).sort(), [...ERROR_KINDS].sort(), 'every kind is in the table');
  for (const r of table) {
    assert.deepEqual(retryPolicy(r.kind), r.policy, `${r.kind}: retry policy`);
    assert.equal(failureClassForKind(r.kind), r.failureClass, `${r.kind}: failure class`);
    assert.equal(exitCodeFor(r.kind), r.exit, `${r.kind}: exit code`);
  }
  assert.deepEqual(EXIT, { ok: 0, problems: 1, usage: 2, transient: 3 });
});

test('schema errors - each class has a default kind; the thrower may decide another', () => {
  const cases: { name: string; error: unknown; want: ErrorKind }[] = [
    { name: 'invalid metadata', error: new InvalidMetadataError([]), want: 'terminal' },
    { name: 'usage', error: new UsageError('--x'), want: 'usage' },
    { name: 'signing key unusable', error: new SigningError('no key'), want: 'usage' },
    { name: 'source: a hostile tree entry', error: new SourceResolveError('refusing tree entry'), want: 'terminal' },
    { name: 'source: the network failed', error: new SourceResolveError('cannot clone', {}, { kind: 'transient' }), want: 'transient' },
    { name: 'lease held', error: new LeaseHeldError('other'), want: 'waiting' },
    { name: 'NATS unreachable', error: new NatsConnectError('refused'), want: 'transient' },
    { name: 'agent infra, told it is usage', error: new AgentInfraError('denied', {}, { kind: 'usage' }), want: 'usage' },
    { name: 'a plain Error (a surprise) backs off like Flux', error: new TypeError('x is undefined'), want: 'transient' },
    { name: 'not an error at all', error: 'boom', want: 'transient' },
    { name: 'wire JSON of a terminal error', error: { code: 'KILN_BUILD_FAILED', kind: 'terminal' }, want: 'terminal' },
    { name: 'wire JSON with an unknown kind', error: { code: 'KILN_X', kind: 'stalled' }, want: 'transient' },
  ];
  for (const c of cases) assert.equal(kindOf(c.error), c.want, c.name);
});

test('schema errors - code, kind, message and data survive toJSON → JSON text → errorFromJSON', () => {
  const sent = new SourceResolveError("refusing tree entry '../x'", { filepath: '../x' }, { kind: 'terminal', cause: new Error('inner') });
  const got = errorFromJSON(JSON.parse(JSON.stringify(sent)));
  assert.deepEqual(got.toJSON(), sent.toJSON());
  assert.equal(got.kind, 'terminal');
  assert.equal(got.code, 'KILN_SOURCE_RESOLVE');
  assert.equal(kindOf(got), 'terminal');
  const odd = errorFromJSON({ code: 42, kind: 'bogus' });
  assert.deepEqual([odd.code, odd.kind, odd.message], ['KILN_UNKNOWN', 'transient', 'unknown error'], 'unreadable input is a transient unknown error');
  assert.deepEqual(errorToJSON(new RangeError('bad')), { name: 'RangeError', code: 'KILN_UNEXPECTED', kind: 'transient', message: 'bad', data: {} });
});
test('schema retry - backoff doubles per attempt up to the cap', () => {
  const opts = { baseMs: 1000, capMs: 10_000, random: () => 0.999999, jitter: 0.5 };
  const cases = [
    { attempt: 1, max: 1000 },
    { attempt: 2, max: 2000 },
    { attempt: 3, max: 4000 },
    { attempt: 4, max: 8000 },
    { attempt: 5, max: 10_000 },
    { attempt: 30, max: 10_000 },
  ];
  for (const c of cases) {
    assert.equal(backoff(c.attempt, opts), c.max - 1, `attempt ${c.attempt} at the top of its window`);
    assert.equal(backoff(c.attempt, { ...opts, random: () => 0 }), c.max / 2, `attempt ${c.attempt} at the bottom of its window`);
  }
});

test('schema retry - backoff jitter stays inside [raw·(1-jitter), raw]', () => {
  for (const r of [0, 0.25, 0.5, 0.75, 0.99]) {
    const d = backoff(3, { baseMs: 100, capMs: 1e9, random: () => r, jitter: 0.2 });
    assert.ok(d >= 320 && d <= 400, `random ${r} gave ${d}`);
  }
  assert.equal(backoff(3, { baseMs: 100, capMs: 1e9, random: () => 0.7, jitter: 0 }), 400, 'no jitter: exact');
  assert.equal(backoff(0, { baseMs: 100, capMs: 1e9, random: () => 0, jitter: 0 }), 100, 'attempt below 1 counts as 1');
});

test('schema errors - a machine short of files, memory or disk is a resource error; bad input is not', () => {
  const sys = (code: string) => Object.assign(new Error(`${code}: x`), { code, syscall: 'open' });
  for (const code of ['EMFILE', 'ENFILE', 'ENOMEM', 'ENOSPC', 'EIO', 'EAGAIN']) assert.equal(isResourceError(sys(code)), true, code);
  for (const code of ['ENOENT', 'EACCES', 'EISDIR', 'NotFoundError']) assert.equal(isResourceError(sys(code)), false, code);
  assert.equal(isResourceError(new UsageError('x')), false);
  assert.equal(isResourceError(undefined), false);
  assert.equal(kindOf(sys('EMFILE')), 'transient', 'and it is retried as a transient error');
});
