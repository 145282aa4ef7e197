// kiln logs [-f] KEY-PREFIX: a build's log (stored, or followed live).
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { findByPrefix } from '../../pipeline/build-list.ts';
import { finishedLog, followLog, keysWithLiveLogs, keysWithLogs } from '../../pipeline/build-logs.ts';
import { withNats } from '../../pipeline/nats-kv.ts';
import { readObserved } from '../../status/reader.ts';
import { NotFoundError } from '../../../schema/errors.ts';
import { BUCKETS } from '../../../schema/nats.ts';
import type { BuildRecord } from '../../../schema/status.ts';
import { flag, str, type Command } from '../command.ts';
import { openRepoArg, REMOTE_OPTIONS, urlRepoOption } from '../repo-arg.ts';

const command: Command = {
  path: ['logs'],
  summary: 'Print a build\'s log; -f follows a running build live.',
  description:
    'KEY-PREFIX is the start (at least 4 hex characters) of a build key, as shown by `kiln builds`.\n' +
    'Without -f: the full log of the build\'s latest finished attempt, from the NATS object store (a small log, from its record on kiln/status; "object" is then null).\n' +
    'With -f: the live output of the build from the beginning, following it until the attempt ends.\n' +
    'With --repo (or $KILN_REPO; a directory or a URL) the key is looked up on kiln/status; otherwise among stored and live logs.',
  options: {
    follow: { type: 'boolean', short: 'f', description: 'Follow the live log until the build ends.' },
    nats: { type: 'string', valueName: 'URL', description: 'NATS server (default: $KILN_NATS_URL).' },
    repo: { ...urlRepoOption(), description: "Look the key up on this repo's kiln/status: a directory, or an https://, ssh:// or user@host:path URL (default: $KILN_REPO)." },
    ...REMOTE_OPTIONS,
    attempt: { type: 'string', valueName: 'N', description: 'Without -f: this attempt instead of the latest.' },
  },
  positionals: [{ name: 'KEY-PREFIX', description: 'Build key or its first characters.', required: true }],
  examples: ['kiln logs 3f9a2c', 'kiln logs -f 3f9a2c --nats nats://127.0.0.1:4222'],
  async run(args, ctx) {
    const prefix = args.positionals[0].toLowerCase();
    let record: BuildRecord | undefined;
    if (str(args, 'repo') ?? ctx.env.repo) {
      const { dir } = await openRepoArg(args, ctx);
      record = findByPrefix((await readObserved({ dir, cache: {}, log: ctx.log })).state.builds.values(), prefix);
    }
    return withNats(str(args, 'nats') ?? ctx.env.natsUrl, ctx.log, async (nc) => {
      const os = await new Objm(nc).open(BUCKETS.artifacts);
      let key = record?.key;
      if (!key) {
        if (/^[0-9a-f]{64}$/.test(prefix)) key = prefix;
        else {
          const keys = new Set([...(await keysWithLogs(os, prefix)), ...(await keysWithLiveLogs(await jetstreamManager(nc), prefix))]);
          key = findByPrefix([...keys].map((k) => ({ key: k })), prefix).key;
        }
      }
      if (flag(args, 'follow')) {
        let bytes = 0;
        const end = await followLog(jetstream(nc), key, {
          signal: ctx.signal,
          write: (chunk) => {
            bytes += chunk.length;
            ctx.out.write(chunk);
          },
          onAttempt: (a) => ctx.log.info({ buildKey: key, attempt: a }, `attempt ${a}`),
        });
        return { data: { key, followed: true, bytes, ended: end ?? null } };
      }
      const wanted = str(args, 'attempt');
      const found = await finishedLog(os, key, record, wanted === undefined ? undefined : Number(wanted));
      if (!found) {
        const why = record?.state === 'queued' ? ' yet: it is queued or building (use -f to follow it)' : record ? '' : " (a small log is kept on kiln/status only: give --repo)";
        throw new NotFoundError(`no stored log for ${key.slice(0, 12)}${wanted ? ` attempt ${wanted}` : ''}${why}`, { key });
      }
      const { object, bytes } = found;
      if (ctx.json) return { data: { key, object, log: new TextDecoder().decode(bytes) } };
      ctx.out.write(bytes);
      return { data: { key, object, bytes: bytes.length } };
    }, ctx.env.natsCredentials);
  },
};
export default command;
