// isomorphic-git inflates every object it reads with pako, a pure-JS zlib whose
// per-call setup (a fresh 64 KiB window) dominated cold reads: 10k metadata
// files spent ~1.5 s of 4 s in pako (CPU profile, scripts/bench-plan). Node's
// zlib has the same semantics for this use (one zlib stream, trailing bytes
// ignored, which isomorphic-git relies on when it inflates an object in place
// inside a packfile), so pako.inflate is routed to it, once, for this process.
// pako's streaming Inflate class (used when indexing fetched packs) is left alone.
import { createRequire } from 'node:module';
import { inflateSync } from 'node:zlib';

// isomorphic-git loads pako with require(); patch that same module instance.
const pako = createRequire(createRequire(import.meta.url).resolve('isomorphic-git'))('pako') as {
  inflate: (data: Uint8Array) => Uint8Array;
  __kilnNative?: boolean;
};

if (!pako.__kilnNative) {
  pako.inflate = (data: Uint8Array) => inflateSync(data);
  pako.__kilnNative = true;
}

export const nativeInflate = true;
