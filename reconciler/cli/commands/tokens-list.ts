// kiln tokens list: the API tokens in a token file (ids, names, roles; never the secrets).
import { readTokenFile } from '../../http/tokens-file.ts';
import { str, type Command } from '../command.ts';
import { TOKENS_OPTION, tokensFile } from './tokens-add.ts';

const command: Command = {
  path: ['tokens', 'list'],
  summary: 'List the API tokens of a token file: id, name, role, created.',
  options: { tokens: TOKENS_OPTION },
  examples: ['kiln tokens list --tokens .kiln/up/tokens.json'],
  async run(args) {
    const { tokens } = await readTokenFile(tokensFile(str(args, 'tokens')));
    const rows = tokens.map(({ id, name, role, createdAt }) => ({ id, name, role, createdAt }));
    const human = rows.length ? rows.map((t) => `${t.id}  ${t.role.padEnd(8)}  ${t.name}  (created ${t.createdAt})`).join('\n') : 'no tokens';
    return { data: { tokens: rows }, human };
  },
};
export default command;
