export * from './errors.ts';
export * from './metadata.ts';
export * from './status.ts';
export * from './messages.ts';
export * from './nats.ts';
export * from './conditions.ts';
export * from './retry.ts';
