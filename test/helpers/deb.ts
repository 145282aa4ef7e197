// Small valid .deb files built in-process (ar + control.tar.gz + data.tar.gz),
// fast enough to make thousands for a benchmark. dpkg and apt accept them.
//   const deb = await writeDeb(dir, { name: 'hello', version: '1.0-1', script: 'echo hi' });
//   -> /usr/bin/hello prints "hi" once installed.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { buildAr } from '../../reconciler/publish/deb/ar.ts';

export interface DebSpec {
  /** Binary package name. */
  name: string;
  version: string;
  /** Default 'all', so it installs in any container. */
  arch?: string;
  description?: string;
  depends?: string;
  /** Source package name, when different from `name`. */
  source?: string;
  /** A shell script body installed as /usr/bin/<name> (mode 0755). */
  script?: string;
  /** More files: absolute path -> content (mode 0644, or 0755 with {content, mode}). */
  files?: Record<string, string | { content: string; mode: number }>;
  /** Extra control fields, appended as given. */
  control?: Record<string, string>;
}

export interface BuiltDeb {
  path: string;
  /** File name, e.g. hello_1.0-1_all.deb. */
  name: string;
  sha256: string;
  size: number;
  package: string;
  version: string;
  arch: string;
}

/** Debian's file name: the epoch is dropped. */
export function debFileName(name: string, version: string, arch: string): string {
  return `${name}_${version.replace(/^\d+:/, '')}_${arch}.deb`;
}

interface TarFile {
  name: string;
  content?: string;
  mode: number;
  type: 'file' | 'directory';
}

async function tarGz(entries: TarFile[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  const mtime = new Date(1_700_000_000_000);
  for (const e of entries) {
    if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory', mode: e.mode, mtime, uname: 'root', gname: 'root' });
    else pack.entry({ name: e.name, type: 'file', mode: e.mode, mtime, uname: 'root', gname: 'root' }, e.content ?? '');
  }
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks), { level: 1 });
}

function controlText(spec: DebSpec, arch: string, installedKb: number): string {
  const lines = [
    `Package: ${spec.name}`,
    ...(spec.source ? [`Source: ${spec.source}`] : []),
    `Version: ${spec.version}`,
    `Architecture: ${arch}`,
    'Maintainer: Kiln Tests <tests@kiln.invalid>',
    `Installed-Size: ${installedKb}`,
    ...(spec.depends ? [`Depends: ${spec.depends}`] : []),
    'Section: misc',
    'Priority: optional',
    ...Object.entries(spec.control ?? {}).map(([k, v]) => `${k}: ${v}`),
    `Description: ${spec.description ?? `${spec.name} test package`}`,
    ` Built by Kiln's test helper.`,
  ];
  return lines.join('\n') + '\n';
}

/** The bytes of a .deb for `spec`. */
export async function buildDeb(spec: DebSpec): Promise<Buffer> {
  const arch = spec.arch ?? 'all';
  const files: Record<string, { content: string; mode: number }> = {};
  if (spec.script !== undefined) files[`/usr/bin/${spec.name}`] = { content: `#!/bin/sh\n${spec.script}\n`, mode: 0o755 };
  for (const [p, v] of Object.entries(spec.files ?? {})) files[p] = typeof v === 'string' ? { content: v, mode: 0o644 } : v;
  const dirs = new Set<string>();
  for (const p of Object.keys(files)) {
    const parts = p.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const data: TarFile[] = [{ name: './', mode: 0o755, type: 'directory' }];
  for (const d of [...dirs].sort()) data.push({ name: `./${d}/`, mode: 0o755, type: 'directory' });
  for (const [p, f] of Object.entries(files).sort()) data.push({ name: `.${p}`, content: f.content, mode: f.mode, type: 'file' });
  const installedKb = Math.max(1, Math.ceil(Object.values(files).reduce((n, f) => n + f.content.length, 0) / 1024));
  const control = await tarGz([
    { name: './', mode: 0o755, type: 'directory' },
    { name: './control', content: controlText(spec, arch, installedKb), mode: 0o644, type: 'file' },
  ]);
  return buildAr([
    { name: 'debian-binary', data: Buffer.from('2.0\n') },
    { name: 'control.tar.gz', data: control },
    { name: 'data.tar.gz', data: await tarGz(data) },
  ]);
}

/** Build `spec` and write it to `dir` under its Debian file name. */
export async function writeDeb(dir: string, spec: DebSpec): Promise<BuiltDeb> {
  const bytes = await buildDeb(spec);
  const arch = spec.arch ?? 'all';
  const name = debFileName(spec.name, spec.version, arch);
  const path = join(dir, name);
  await writeFile(path, bytes);
  return { path, name, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, package: spec.name, version: spec.version, arch };
}
