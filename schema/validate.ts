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

/** A schema with the type of the data it accepts (for the validator's type; nothing is compiled yet). */
type Typed<T> = object & { readonly __data?: T };
const typed = <T>(schema: object): Typed<T> => schema as Typed<T>;

/** An object whose properties are the validators of `schemas`, each compiled the first time it is read. */
function lazyValidators<S extends Record<string, Typed<unknown>>>(schemas: S): { readonly [K in keyof S]: S[K] extends Typed<infer T> ? ValidateFunction<T> : never } {
  const out = {};
  for (const [key, schema] of Object.entries(schemas)) {
    Object.defineProperty(out, key, {
      enumerable: true,
      configurable: true,
      get() {
        const validate = compiler().compile(schema);
        Object.defineProperty(out, key, { value: validate, enumerable: true });
        return validate;
      },
    });
  }
  return out as never;
}

export const validators = lazyValidators({
  kilnConfig: typed<KilnConfigDoc>(kilnConfigSchema),
  debPackage: typed<DebPackageDoc>(debPackageSchema),
  aptDistribution: typed<AptDistributionDoc>(aptDistributionSchema),
  ociPackage: typed<OciPackageDoc>(ociPackageSchema),
  registryDistribution: typed<RegistryDistributionDoc>(registryDistributionSchema),
  rpmPackage: typed<RpmPackageDoc>(rpmPackageSchema),
  dnfDistribution: typed<DnfDistributionDoc>(dnfDistributionSchema),
  buildRecord: typed<BuildRecord>(buildRecordSchema),
  releaseRecord: typed<ReleaseRecord>(releaseRecordSchema),
  gateRecord: typed<GateRecord>(gateRecordSchema),
  checkRecord: typed<CheckRecord>(checkRecordSchema),
  conditionRecord: typed<ConditionRecord>(conditionRecordSchema),
  buildJob: typed<BuildJob>(buildJobSchema),
  buildResult: typed<BuildResult>(buildResultSchema),
  agentInfo: typed<AgentInfo>(agentInfoSchema),
  forgeStatusRecord: typed<ForgeStatusRecord>(forgeStatusRecordSchema),
  checkOutboxEntry: typed<CheckOutboxEntry>(checkOutboxEntrySchema),
  pushEvent: typed<PushEvent>(pushEventSchema),
  pullRequestEvent: typed<PullRequestEvent>(pullRequestEventSchema),
  brokerCredentials: typed<BrokerCredentials>(brokerCredentialsSchema),
  ociImage: typed<OciImage>(ociImageSchema),
  publishedTags: typed<PublishedTags>(publishedTagsSchema),
  registryAuth: typed<RegistryAuthDoc>(registryAuthSchema),
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
