// Where `kiln up DIR` keeps its state, and what the first start creates:
//   DIR/nats/       JetStream store (queues, logs, artifacts, agent registry)
//   DIR/keys/       the release key (made on first start unless --signing-key)
//   DIR/metadata/   the example metadata repo (made on first start unless --repo);
//                   kiln/status lives in it
//   DIR/repos/      published apt repositories (served at /repos/)
//   DIR/agent/      the local agents' work dirs
//   DIR/registries/ OCI registries on loopback (when registry distributions name them)
//   DIR/logs/       nats-server and agent output
//   DIR/tokens.json API tokens (`kiln tokens --tokens DIR/tokens.json`)
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readKey } from 'openpgp';
import { scaffold } from '../desired/scaffold.ts';
import { PRIVATE_KEY_MODE, PUBLIC_KEY_MODE, writeFileAtomic } from '../keys/write-key-file.ts';
import { generateKey } from '../signing/signer.ts';

export interface UpLayout {
  dir: string;
  nats: string;
  keys: string;
  metadata: string;
  repos: string;
  agent: string;
  logs: string;
  tokens: string;
  releaseKey: string;
}

export function upLayout(dir: string): UpLayout {
  const d = resolve(dir);
  return {
    dir: d,
    nats: join(d, 'nats'),
    keys: join(d, 'keys'),
    metadata: join(d, 'metadata'),
    repos: join(d, 'repos'),
    agent: join(d, 'agent'),
    logs: join(d, 'logs'),
    tokens: join(d, 'tokens.json'),
    releaseKey: join(d, 'keys', 'kiln-release.key.asc'),
  };
}

const exists = (p: string) => stat(p).then(() => true, () => false);

export interface Prepared {
  signingKeyFile: string;
  repoDir: string;
  /** What this start created (empty when resuming). */
  created: string[];
}

/** Make the directories; on first start, the release key and the example metadata repo. */
export async function prepareState(l: UpLayout, opts: { signingKeyFile?: string; repoDir?: string }): Promise<Prepared> {
  for (const d of [l.dir, l.nats, l.keys, l.repos, l.agent, l.logs]) await mkdir(d, { recursive: true });
  const created: string[] = [];
  let signingKeyFile = opts.signingKeyFile;
  let publicKeyArmored: string | undefined;
  if (!signingKeyFile) {
    signingKeyFile = l.releaseKey;
    if (!(await exists(l.releaseKey))) {
      const key = await generateKey({ name: 'Kiln Release', email: 'release@kiln.invalid' });
      await writeFileAtomic(l.releaseKey, key.privateKeyArmored, PRIVATE_KEY_MODE);
      await writeFileAtomic(l.releaseKey.replace(/\.key\.asc$/, '.pub.asc'), key.publicKeyArmored, PUBLIC_KEY_MODE);
      publicKeyArmored = key.publicKeyArmored;
      created.push(`release key ${l.releaseKey} (${key.fingerprint})`);
    }
  }
  const repoDir = opts.repoDir ? resolve(opts.repoDir) : l.metadata;
  if (!opts.repoDir && !(await exists(join(l.metadata, '.git')))) {
    publicKeyArmored ??= (await readKey({ armoredKey: await readFile(signingKeyFile, 'utf8') })).toPublic().armor();
    await scaffold({ dir: l.metadata, example: true, author: { name: 'Kiln', email: 'kiln@localhost' }, releaseKey: { slug: 'kiln-release', publicKeyArmored } });
    created.push(`example metadata repo ${l.metadata}`);
  }
  return { signingKeyFile, repoDir, created };
}
