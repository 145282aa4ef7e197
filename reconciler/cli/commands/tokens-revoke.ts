// kiln tokens revoke: remove an API token; requests with it are refused at once.
import { revokeToken } from '../../http/tokens-file.ts';
import { str, type Command } from '../command.ts';
import { TOKENS_OPTION, tokensFile } from './tokens-add.ts';

const command: Command = {
  path: ['tokens', 'revoke'],
  summary: 'Revoke an API token by id or name.',
  options: { tokens: TOKENS_OPTION },
  positionals: [{ name: 'TOKEN', description: 'The token id or name, as `kiln tokens list` shows it.', required: true }],
  examples: ['kiln tokens revoke --tokens .kiln/up/tokens.json ci'],
  async run(args) {
    const gone = await revokeToken(tokensFile(str(args, 'tokens')), args.positionals[0]);
    return { data: { revoked: gone.id, name: gone.name }, human: `revoked token ${gone.id} '${gone.name}'` };
  },
};
export default command;
