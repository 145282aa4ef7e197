#!/usr/bin/env node
// Entry shim: runs the TypeScript CLI through tsx, so `npx kiln` works after `npm ci`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../reconciler/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
