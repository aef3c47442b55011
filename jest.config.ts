import { availableParallelism } from 'node:os';
import type { Config } from 'jest';

// ESM throughout (NestJS 12 ships ESM only): Jest runs with --experimental-vm-modules and SWC
// strips types while keeping decorator metadata, which Nest's dependency injection reads.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

const libs = ['config', 'persistence', 'keys', 'quota', 'metering', 'ollama', 'dialects', 'settings', 'audit', 'api-types', 'upstreams'];

const config: Config = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc as never },
  moduleNameMapper: {
    ...Object.fromEntries(libs.map((lib) => [`^@llmproxy/${lib}$`, `<rootDir>/libs/${lib}/src/index.ts`])),
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['<rootDir>/apps/**/*.spec.ts', '<rootDir>/libs/**/*.spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'],
  testTimeout: 30_000,
  // At least two workers, also on two cores (Jest's default there is one): the end-to-end files mostly
  // wait on spawned gateways, sockets and PostgreSQL, so two at once halve the suite's wall time
  // (on the 2-core CI machine, with the soak: ~1,250 s in one worker, 651 s in two).
  maxWorkers: Math.max(2, availableParallelism() - 1),
};

export default config;
