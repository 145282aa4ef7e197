// ajv validators, compiled once per process. Each returns typed data or ajv's errors.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
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

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });

function compile<T>(schema: object): ValidateFunction<T> {
  return ajv.compile<T>(schema);
}

export const validators = {
  kilnConfig: compile<KilnConfigDoc>(kilnConfigSchema),
  debPackage: compile<DebPackageDoc>(debPackageSchema),
  aptDistribution: compile<AptDistributionDoc>(aptDistributionSchema),
  ociPackage: compile<OciPackageDoc>(ociPackageSchema),
  registryDistribution: compile<RegistryDistributionDoc>(registryDistributionSchema),
  rpmPackage: compile<RpmPackageDoc>(rpmPackageSchema),
  dnfDistribution: compile<DnfDistributionDoc>(dnfDistributionSchema),
  buildRecord: compile<BuildRecord>(buildRecordSchema),
  releaseRecord: compile<ReleaseRecord>(releaseRecordSchema),
  gateRecord: compile<GateRecord>(gateRecordSchema),
  checkRecord: compile<CheckRecord>(checkRecordSchema),
  conditionRecord: compile<ConditionRecord>(conditionRecordSchema),
  buildJob: compile<BuildJob>(buildJobSchema),
  buildResult: compile<BuildResult>(buildResultSchema),
  agentInfo: compile<AgentInfo>(agentInfoSchema),
  forgeStatusRecord: compile<ForgeStatusRecord>(forgeStatusRecordSchema),
  checkOutboxEntry: compile<CheckOutboxEntry>(checkOutboxEntrySchema),
  pushEvent: compile<PushEvent>(pushEventSchema),
  pullRequestEvent: compile<PullRequestEvent>(pullRequestEventSchema),
  brokerCredentials: compile<BrokerCredentials>(brokerCredentialsSchema),
  ociImage: compile<OciImage>(ociImageSchema),
  publishedTags: compile<PublishedTags>(publishedTagsSchema),
  registryAuth: compile<RegistryAuthDoc>(registryAuthSchema),
} as const;

/** Package files' validators by `format:` (the first also judges an unknown format). */
export const packageValidators = { deb: validators.debPackage, oci: validators.ociPackage, rpm: validators.rpmPackage } as const;
/** Distribution files' validators by `format:`. */
export const distributionValidators = { apt: validators.aptDistribution, registry: validators.registryDistribution, dnf: validators.dnfDistribution } as const;

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
