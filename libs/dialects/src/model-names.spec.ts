import fc from 'fast-check';
import {
  allowListPermits,
  canonicalModelName,
  isVendorModelName,
  matchesModelPattern,
  modelNotFoundMessage,
  resolveModelName,
  sameModel,
  type ModelNameContext,
  type TranslatedDialect,
} from './model-names.js';

const available = ['qwen3:8b', 'qwen3:4b', 'llama3.2:latest', 'gpt-oss:20b'];
const aliases = { 'claude-*haiku*': 'qwen3:4b', 'claude-*': 'qwen3:8b' };
const context = (overrides: Partial<ModelNameContext> = {}): ModelNameContext => ({ available, aliases, defaultModel: 'gpt-oss:20b', ...overrides });

describe('matchesModelPattern', () => {
  it.each([
    ['claude-*haiku*', 'claude-haiku-4-5-20251001', true],
    ['claude-*haiku*', 'CLAUDE-3-5-HAIKU-latest', true],
    ['claude-*haiku*', 'claude-sonnet-4-6', false],
    ['claude-sonnet-4-6', 'claude-sonnet-4-6', true],
    ['claude-sonnet-4-6', 'claude-sonnet-4-60', false],
    ['gpt-4.1', 'gpt-4x1', false],
    ['*', 'anything', true],
  ])('%s ~ %s → %s', (pattern, name, expected) => {
    expect(matchesModelPattern(pattern, name)).toBe(expected);
  });
});

describe('isVendorModelName', () => {
  it.each<[TranslatedDialect, string, boolean]>([
    ['anthropic', 'claude-sonnet-4-6', true],
    ['anthropic', 'Claude-Opus-4-1', true],
    ['anthropic', 'claude', false],
    ['anthropic', 'gpt-4o', false],
    ['openai', 'gpt-4o', true],
    ['openai', 'GPT-4.1', true],
    ['openai', 'o1', true],
    ['openai', 'o3-mini', true],
    ['openai', 'o4-mini', true],
    ['openai', 'chatgpt-4o-latest', true],
    ['openai', 'codex-mini-latest', true],
    ['openai', 'gpt-oss:20b', true],
    ['openai', 'o2-preview', false],
    ['openai', 'claude-sonnet-4-6', false],
    ['openai', 'llama3.2:3bb', false],
    ['openai', 'text-embedding-3-small', false],
  ])('%s: %s → %s', (dialect, name, expected) => {
    expect(isVendorModelName(dialect, name)).toBe(expected);
  });
});

describe('canonicalModelName', () => {
  it.each([
    ['llama3.2', 'llama3.2:latest'],
    ['llama3.2:latest', 'llama3.2:latest'],
    ['qwen3:4b', 'qwen3:4b'],
    ['me/model', 'me/model:latest'],
    ['localhost:5000/me/model', 'localhost:5000/me/model:latest'],
    ['localhost:5000/me/model:q4', 'localhost:5000/me/model:q4'],
  ])('%s → %s', (name, expected) => {
    expect(canonicalModelName(name)).toBe(expected);
  });
});

describe('allowListPermits', () => {
  it('permits everything without a list, and only the models listed (either spelling of :latest) with one', () => {
    expect(allowListPermits(null, 'anything')).toBe(true);
    expect(allowListPermits(['llama3.2'], 'llama3.2:latest')).toBe(true);
    expect(allowListPermits(['llama3.2:latest'], 'llama3.2')).toBe(true);
    expect(allowListPermits(['llama3.2'], 'llama3.2:3b')).toBe(false);
    expect(allowListPermits([], 'llama3.2')).toBe(false);
  });
});

describe('resolveModelName', () => {
  it('takes a name Ollama has, exactly or with :latest, as Ollama lists it', () => {
    expect(resolveModelName('qwen3:8b', 'openai', context())).toEqual({ found: true, model: 'qwen3:8b', via: 'ollama' });
    expect(resolveModelName('llama3.2', 'anthropic', context())).toEqual({ found: true, model: 'llama3.2:latest', via: 'ollama' });
  });

  it('otherwise takes the first matching alias, in the aliases\' order, in either dialect', () => {
    expect(resolveModelName('claude-haiku-4-5-20251001', 'anthropic', context())).toEqual({ found: true, model: 'qwen3:4b', via: 'alias' });
    expect(resolveModelName('claude-sonnet-4-6', 'anthropic', context())).toEqual({ found: true, model: 'qwen3:8b', via: 'alias' });
    // An alias is the admin's word: it applies to any name, vendor's or not, in every dialect.
    expect(resolveModelName('claude-sonnet-4-6', 'openai', context())).toEqual({ found: true, model: 'qwen3:8b', via: 'alias' });
    expect(resolveModelName('coder', 'openai', context({ aliases: { coder: 'qwen3:4b' } }))).toEqual({ found: true, model: 'qwen3:4b', via: 'alias' });
  });

  it('prefers a real model over an alias that also matches', () => {
    expect(resolveModelName('qwen3:4b', 'openai', context({ aliases: { '*': 'gpt-oss:20b' } }))).toEqual({ found: true, model: 'qwen3:4b', via: 'ollama' });
  });

  it("falls back to the default model only for the dialect's own vendor names", () => {
    expect(resolveModelName('gpt-4o', 'openai', context())).toEqual({ found: true, model: 'gpt-oss:20b', via: 'default' });
    expect(resolveModelName('claude-opus-4-1', 'anthropic', context({ aliases: {} }))).toEqual({ found: true, model: 'gpt-oss:20b', via: 'default' });
    expect(resolveModelName('gpt-4o', 'anthropic', context())).toEqual({ found: false, vendorName: false });
    expect(resolveModelName('claude-opus-4-1', 'openai', context({ aliases: {} }))).toEqual({ found: false, vendorName: false });
  });

  it('finds nothing for a typo, whatever the default model', () => {
    expect(resolveModelName('llama3.2:3bb', 'openai', context())).toEqual({ found: false, vendorName: false });
    expect(resolveModelName('qwen3:8', 'anthropic', context())).toEqual({ found: false, vendorName: false });
  });

  it('finds nothing for a vendor name without a default model', () => {
    expect(resolveModelName('gpt-4o', 'openai', context({ defaultModel: null }))).toEqual({ found: false, vendorName: true });
    expect(resolveModelName('gpt-4o', 'openai', context({ available: [], aliases: {}, defaultModel: '' }))).toEqual({ found: false, vendorName: true });
  });
});

describe('modelNotFoundMessage', () => {
  it('names the model and points to GET /v1/models', () => {
    expect(modelNotFoundMessage('llama3.2:3bb', { vendorName: false })).toBe(
      "model 'llama3.2:3bb' not found: Ollama has no such model and no alias matches it; see GET /v1/models for the models this key may use",
    );
    expect(modelNotFoundMessage('gpt-4o', { vendorName: true })).toContain('no default model is configured');
  });
});

describe('the rule on generated inputs', () => {
  const segment = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,11}$/);
  const tag = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,7}$/);
  const ollamaName = fc.tuple(fc.option(segment, { nil: undefined }), segment, fc.option(tag, { nil: undefined })).map(
    ([namespace, model, version]) => `${namespace ? `${namespace}/` : ''}${model}${version ? `:${version}` : ''}`,
  );
  const vendorName = fc.tuple(fc.constantFrom('claude-', 'gpt-', 'o1', 'o3', 'o4', 'chatgpt-', 'codex-', 'GPT-', 'Claude-'), tag).map(([prefix, rest]) => prefix + rest);
  const pattern = fc.tuple(fc.option(segment, { nil: '' }), fc.boolean(), fc.option(segment, { nil: '' })).map(([a, star, b]) => `${a}${star ? '*' : ''}${b}`).filter((p) => p !== '');
  const dialect = fc.constantFrom<TranslatedDialect>('openai', 'anthropic');
  const generatedContext = fc.record({
    available: fc.uniqueArray(ollamaName, { maxLength: 6 }).map((names) => names.map(canonicalModelName)),
    aliases: fc.dictionary(pattern, ollamaName, { maxKeys: 4 }),
    defaultModel: fc.option(ollamaName, { nil: null }),
  });
  const requested = fc.oneof(ollamaName, vendorName);

  it('canonicalModelName is idempotent and only ever adds :latest', () => {
    fc.assert(
      fc.property(ollamaName, (name) => {
        const canonical = canonicalModelName(name);
        expect(canonicalModelName(canonical)).toBe(canonical);
        expect([name, `${name}:latest`]).toContain(canonical);
        expect(sameModel(name, canonical)).toBe(true);
      }),
    );
  });

  it('serves only a listed model, an alias target or the default model — and the default only for a vendor name', () => {
    fc.assert(
      fc.property(requested, dialect, generatedContext, (name, which, ctx) => {
        const resolution = resolveModelName(name, which, ctx);
        if (!resolution.found) return;
        if (resolution.via === 'ollama') expect(ctx.available.some((listed) => listed === resolution.model && sameModel(listed, name))).toBe(true);
        if (resolution.via === 'alias') expect(Object.entries(ctx.aliases).some(([p, target]) => target === resolution.model && matchesModelPattern(p, name))).toBe(true);
        if (resolution.via === 'default') {
          expect(resolution.model).toBe(ctx.defaultModel);
          expect(isVendorModelName(which, name)).toBe(true);
        }
      }),
    );
  });

  it('always serves a name Ollama lists as itself, whatever the aliases and default', () => {
    fc.assert(
      fc.property(dialect, generatedContext, fc.nat(), (which, ctx, pick) => {
        fc.pre(ctx.available.length > 0);
        const listed = ctx.available[pick % ctx.available.length]!;
        expect(resolveModelName(listed, which, ctx)).toEqual({ found: true, model: listed, via: 'ollama' });
      }),
    );
  });

  it('finds nothing for a name neither Ollama, an alias nor the vendor rule knows, even with a default model', () => {
    fc.assert(
      fc.property(ollamaName, dialect, generatedContext, (name, which, ctx) => {
        fc.pre(!isVendorModelName(which, name));
        fc.pre(!ctx.available.some((listed) => sameModel(listed, name)));
        fc.pre(!Object.keys(ctx.aliases).some((p) => matchesModelPattern(p, name)));
        expect(resolveModelName(name, which, ctx)).toEqual({ found: false, vendorName: false });
      }),
    );
  });
});
