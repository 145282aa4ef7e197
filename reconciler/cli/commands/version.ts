import { readFile } from 'node:fs/promises';
import type { Command } from '../command.ts';

const command: Command = {
  path: ['version'],
  summary: 'Print the Kiln version.',
  options: {},
  async run() {
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    return { data: { version: pkg.version, node: process.version }, human: `kiln ${pkg.version} (node ${process.version})` };
  },
};
export default command;
