// kiln tokens add: make an API bearer token (shown once; only its sha256 is kept).
import { ROLES, type Role } from '../../../schema/api.ts';
import { UsageError } from '../../../schema/errors.ts';
import { addToken } from '../../http/tokens-file.ts';
import { str, type Command } from '../command.ts';

export const TOKENS_OPTION = { type: 'string', valueName: 'FILE', description: 'The token file (as given to the server; `kiln up` uses DIR/tokens.json).' } as const;

export function tokensFile(file: string | undefined): string {
  if (!file) throw new UsageError('missing --tokens FILE');
  return file;
}

const command: Command = {
  path: ['tokens', 'add'],
  summary: 'Make an API bearer token with a role: viewer, operator or admin.',
  description:
    'Writes a new token to FILE (created if missing, mode 0600) and prints it once: the file keeps only its\n' +
    'sha256. viewer reads (when reads are not public), operator also retries builds and drains agents,\n' +
    'admin may do everything. Send it as `Authorization: Bearer <token>`. The server picks up the change\n' +
    'without a restart.',
  options: {
    tokens: TOKENS_OPTION,
    name: { type: 'string', valueName: 'NAME', description: 'Who or what holds the token (unique in the file).' },
    role: { type: 'string', valueName: 'ROLE', description: `One of ${ROLES.join(', ')}.`, default: 'viewer' },
  },
  examples: ['kiln tokens add --tokens .kiln/up/tokens.json --name ci --role operator'],
  async run(args) {
    const name = str(args, 'name');
    if (!name) throw new UsageError('missing --name NAME');
    const { token, entry } = await addToken(tokensFile(str(args, 'tokens')), name, (str(args, 'role') ?? 'viewer') as Role);
    return { data: { token, id: entry.id, name: entry.name, role: entry.role }, human: `${token}\n(token ${entry.id} '${entry.name}', role ${entry.role}: shown once, keep it now)` };
  },
};
export default command;
