// Serve a directory of git repositories over smart HTTP (native `git
// http-backend`, push enabled) on 127.0.0.1: a stand-in forge for trying a
// remote metadata repo (README "Kiln with a remote metadata repo"). The same
// server the tests use. Usage: scripts/git-http-serve ROOT [PORT]
import { startGitServer } from '../test/helpers/git-server.ts';

const [root, port] = process.argv.slice(2);
if (!root) {
  process.stderr.write('usage: scripts/git-http-serve ROOT [PORT]\n');
  process.exit(2);
}
const server = await startGitServer(root, { port: port ? Number(port) : undefined });
process.stdout.write(`serving ${root} at ${server.url}/ (Ctrl-C stops)\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
