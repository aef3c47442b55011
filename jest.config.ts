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
};

export default config;
