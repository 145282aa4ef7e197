// A Docker Engine client, with dockerode loaded on first use. dockerode brings its gRPC,
// protobuf and SSH dependencies (≈ 180 modules): loaded at import, they made every `kiln`
// command's start (`--help` included) and every process that never talks to an engine
// pay for them. dockerode is CommonJS, so a plain require loads it synchronously.
import { createRequire } from 'node:module';
import type Docker from 'dockerode';

const require = createRequire(import.meta.url);

/** A client of the engine `opts` names (default: DOCKER_HOST, else /var/run/docker.sock). */
export function dockerClient(opts?: Docker.DockerOptions): Docker {
  const DockerClient = require('dockerode') as typeof Docker;
  return new DockerClient(opts);
}
