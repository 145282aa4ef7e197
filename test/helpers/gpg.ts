// A throwaway GnuPG home for tests: import public keys, then let the native
// tools (gpg, gpgv, git verify-commit) judge what openpgp.js signed.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GIT_ENV } from './git.ts';

export interface ToolResult {
  ok: boolean;
  code: number;
  stdout: string;
  stderr: string;
}

export interface GpgHome {
  /** The GNUPGHOME directory. */
  home: string;
  /** Environment for child processes that should use this keyring. */
  env: NodeJS.ProcessEnv;
  /** Import an armored public key and mark it ultimately trusted. */
  importKey(armored: string): Promise<void>;
  /** `gpg --verify SIG DATA` for a detached signature. */
  verifyDetached(signature: string, data: string | Uint8Array): Promise<ToolResult>;
  /** `gpg --verify` of a cleartext-signed message (e.g. InRelease). */
  verifyCleartext(signed: string): Promise<ToolResult>;
  /** `git verify-commit REV` in `dir`, with this keyring. */
  verifyCommit(dir: string, rev: string): Promise<ToolResult>;
  /** Any git command in `dir` with this keyring (e.g. `log --show-signature`). */
  git(dir: string, ...args: string[]): Promise<ToolResult>;
  /** Run any tool with this keyring. */
  run(cmd: string, args: string[], opts?: { cwd?: string }): Promise<ToolResult>;
  /** Kill the gpg-agent this home started and delete it. */
  dispose(): Promise<void>;
}

function exec(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ ok: !err, code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** A new temp GNUPGHOME (mode 0700), optionally with keys imported. Call dispose() in t.after. */
export async function makeGpgHome(...publicKeys: string[]): Promise<GpgHome> {
  const home = await mkdtemp(join(tmpdir(), 'kiln-gnupg-'));
  const env: NodeJS.ProcessEnv = { ...process.env, ...GIT_ENV, GNUPGHOME: home, LC_ALL: 'C' };
  let n = 0;
  const tmpFile = async (content: string | Uint8Array) => {
    const file = join(home, `tmp-${n++}`);
    await writeFile(file, content);
    return file;
  };
  const run = (cmd: string, args: string[], opts: { cwd?: string } = {}) => exec(cmd, args, env, opts.cwd);
  const gpg = (...args: string[]) => run('gpg', ['--batch', '--no-tty', ...args]);

  const self: GpgHome = {
    home,
    env,
    run,
    async importKey(armored) {
      const file = await tmpFile(armored);
      const imp = await gpg('--import', file);
      if (!imp.ok) throw new Error(`gpg --import failed:\n${imp.stderr}`);
      // Trust it, so gpg and git report a good signature without "not certified" noise.
      const list = await gpg('--with-colons', '--import-options', 'show-only', '--import', file);
      const fprs = list.stdout
        .split('\n')
        .filter((l) => l.startsWith('fpr:'))
        .map((l) => l.split(':')[9]);
      if (fprs[0]) {
        const trust = await tmpFile(`${fprs[0]}:6:\n`);
        const r = await gpg('--import-ownertrust', trust);
        if (!r.ok) throw new Error(`gpg --import-ownertrust failed:\n${r.stderr}`);
      }
    },
    async verifyDetached(signature, data) {
      const sig = await tmpFile(signature);
      const dat = await tmpFile(data);
      return gpg('--verify', sig, dat);
    },
    async verifyCleartext(signed) {
      return gpg('--verify', await tmpFile(signed));
    },
    async verifyCommit(dir, rev) {
      return run('git', ['verify-commit', '-v', rev], { cwd: dir });
    },
    async git(dir, ...args) {
      return run('git', args, { cwd: dir });
    },
    async dispose() {
      await exec('gpgconf', ['--kill', 'all'], env);
      await rm(home, { recursive: true, force: true });
    },
  };
  for (const k of publicKeys) await self.importKey(k);
  return self;
}
