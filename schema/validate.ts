// ajv validators, compiled once per process, each when first used. Each returns typed data or ajv's errors.
import { createRequire } from 'node:module';
import type { Ajv2020, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { aptDistributionSchema, debPackageSchema, dnfDistributionSchema, kilnConfigSchema, ociPackageSchema, registryDistributionSchema, rpmPackageSchema } from './metadata.ts';
import type { AptDistributionDoc, DebPackageDoc, DnfDistributionDoc, KilnConfigDoc, OciPackageDoc, RegistryDistributionDoc, RpmPackageDoc } from './metadata.ts';
import { buildRecordSchema, checkRecordSchema, conditionRecordSchema, gateRecordSchema, releaseRecordSchema } from './status.ts';
import type { BuildRecord, CheckRecord, ConditionRecord, GateRecord, ReleaseRecord } from './status.ts';
import { checkOutboxEntrySchema, forgeStatusRecordSchema, pullRequestEventSchema, pushEventSchema } from './forge.ts';
import type { CheckOutboxEntry, ForgeStatusRecord, PullRequestEvent, PushEvent } from './forge.ts';
import { agentInfoSchema, buildJobSchema, buildResultSchema } from './messages.ts';
import type { AgentInfo, BuildJob, BuildResult } from './messages.ts';
import { brokerCredentialsSchema, type BrokerCredentials } from './broker.ts';
import { ociImageSchema, publishedTagsSchema, type OciImage, type PublishedTags } from './oci.ts';
import { registryAuthSchema, type RegistryAuthDoc } from './registry-auth.ts';

// Compiled on first use, not at import: compiling all of them took ~250 ms of every process's
// start (every `kiln` command, agent and test file), most of which use two or three.
// ajv itself (≈ 80 modules, CommonJS) is loaded with the first compile, for the same reason.
const require = createRequire(import.meta.url);
let ajv: Ajv2020 | undefined;

function compiler(): Ajv2020 {
  ajv ??= new (require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js')).Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  return ajv;
}

/** A property of `target` that compiles `schema` the first time it is read, then is the validator. */
function lazy<T>(target: object, key: string, schema: object): void {
  Object.defineProperty(target, key, {
    enumerable: true,
    configurable: true,
    get() {
      const validate = compiler().compile<T>(schema);
      Object.defineProperty(target, key, { value: validate, enumerable: true });
      return validate;
    },
  });
}

function lazyValidators<M extends Record<string, unknown>>(schemas: { [K in keyof M]: object }): { readonly [K in keyof M]: ValidateFunction<M[K]> } {
  const out = {};
  for (const [key, schema] of Object.entries(schemas)) lazy(out, key, schema as object);
  return out as { readonly [K in keyof M]: ValidateFunction<M[K]> };
}

export const validators = lazyValidators<{
  kilnConfig: KilnConfigDoc;
  debPackage: DebPackageDoc;
  aptDistribution: AptDistributionDoc;
  ociPackage: OciPackageDoc;
  registryDistribution: RegistryDistributionDoc;
  rpmPackage: RpmPackageDoc;
  dnfDistribution: DnfDistributionDoc;
  buildRecord: BuildRecord;
  releaseRecord: ReleaseRecord;
  gateRecord: GateRecord;
  checkRecord: CheckRecord;
  conditionRecord: ConditionRecord;
  buildJob: BuildJob;
  buildResult: BuildResult;
  agentInfo: AgentInfo;
  forgeStatusRecord: ForgeStatusRecord;
  checkOutboxEntry: CheckOutboxEntry;
  pushEvent: PushEvent;
  pullRequestEvent: PullRequestEvent;
  brokerCredentials: BrokerCredentials;
  ociImage: OciImage;
  publishedTags: PublishedTags;
  registryAuth: RegistryAuthDoc;
}>({
  kilnConfig: kilnConfigSchema,
  debPackage: debPackageSchema,
  aptDistribution: aptDistributionSchema,
  ociPackage: ociPackageSchema,
  registryDistribution: registryDistributionSchema,
  rpmPackage: rpmPackageSchema,
  dnfDistribution: dnfDistributionSchema,
  buildRecord: buildRecordSchema,
  releaseRecord: releaseRecordSchema,
  gateRecord: gateRecordSchema,
  checkRecord: checkRecordSchema,
  conditionRecord: conditionRecordSchema,
  buildJob: buildJobSchema,
  buildResult: buildResultSchema,
  agentInfo: agentInfoSchema,
  forgeStatusRecord: forgeStatusRecordSchema,
  checkOutboxEntry: checkOutboxEntrySchema,
  pushEvent: pushEventSchema,
  pullRequestEvent: pullRequestEventSchema,
  brokerCredentials: brokerCredentialsSchema,
  ociImage: ociImageSchema,
  publishedTags: publishedTagsSchema,
  registryAuth: registryAuthSchema,
});

/** Package files' validators by `format:` (the first also judges an unknown format); each read when used. */
export const packageValidators = {
  get deb() { return validators.debPackage; },
  get oci() { return validators.ociPackage; },
  get rpm() { return validators.rpmPackage; },
};
/** Distribution files' validators by `format:`; each read when used. */
export const distributionValidators = {
  get apt() { return validators.aptDistribution; },
  get registry() { return validators.registryDistribution; },
  get dnf() { return validators.dnfDistribution; },
};

export type ValidatorName = keyof typeof validators;
export type { ErrorObject };

/** Validate or throw a plain Error listing ajv's messages (for wire data, not user files). */
export function assertValid<K extends ValidatorName>(
  name: K,
  value: unknown,
): (typeof validators)[K] extends ValidateFunction<infer T> ? T : never {
  const v = validators[name] as ValidateFunction;
  if (!v(value)) {
    const msg = (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    throw new TypeError(`invalid ${name}: ${msg}`);
  }
  return value as never;
}
