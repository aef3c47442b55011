import { namedCompletionLimit } from '@llmproxy/quota';
import { enforceRequestPolicy, isCloudModel, keepAliveSeconds, numPredictOf, setCompletionLimit, type RequestPolicy } from './request-policy.js';

const policy: RequestPolicy = { keepAliveMinSeconds: 300, keepAliveMaxSeconds: 1800, maxNumCtx: 65_536, allowLoadOptions: false };

describe('the completion limit a request names (numPredictOf, judged by the quota rule)', () => {
  it.each([
    [{ options: { num_predict: 100 } }, 100],
    [{ options: { num_predict: 1 } }, 1],
    // Ollama stops only for num_predict > 0 (after truncating to an integer): these all mean "no limit".
    [{ options: { num_predict: 0 } }, null],
    [{ options: { num_predict: 0.5 } }, null],
    [{ options: { num_predict: 1.5 } }, null],
    [{ options: { num_predict: -1 } }, null],
    [{ options: { num_predict: -2 } }, null],
    [{ options: { num_predict: '100' } }, null],
    [{ options: { num_predict: 1e300 } }, null],
    [{ options: {} }, null],
    [{}, null],
    [{ options: 'x' }, null],
  ])('%j -> %p', (body, expected) => {
    expect(namedCompletionLimit(numPredictOf(body as Record<string, unknown>))).toBe(expected);
  });
});

describe('setCompletionLimit', () => {
  it('replaces any num_predict, keeping the other options', () => {
    const body: Record<string, unknown> = { options: { num_predict: 0, temperature: 0.2 } };
    setCompletionLimit(body, 7);
    expect(body.options).toEqual({ num_predict: 7, temperature: 0.2 });
  });

  it.each([0, -1, 0.5, Number.NaN])('refuses to set %p, which Ollama would read as unlimited', (limit) => {
    expect(() => setCompletionLimit({}, limit)).toThrow(RangeError);
  });
});

describe('keepAliveSeconds', () => {
  it.each([
    [300, 300],
    [0, 0],
    [-1, -1],
    ['5m', 300],
    ['1h30m', 5400],
    ['300ms', 0.3],
    ['0', 0],
    ['-1m', -1],
    ['-1', Number.NaN],
    ['300', Number.NaN],
    ['forever', Number.NaN],
    [null, Number.NaN],
  ])('%p -> %p', (value, expected) => {
    expect(keepAliveSeconds(value)).toBe(expected);
  });
});

describe('enforceRequestPolicy', () => {
  it.each([
    [0, 300],
    ['0s', 300],
    [-1, 1800],
    ['-5m', 1800],
    ['24h', 1800],
    [10, 300],
    ['10m', 600],
    ['nonsense', 300],
  ])('keep_alive %p becomes %p seconds', (keepAlive, expected) => {
    const body: Record<string, unknown> = { keep_alive: keepAlive };
    enforceRequestPolicy(body, policy);
    expect(body.keep_alive).toBe(expected);
  });

  it('leaves an absent keep_alive to Ollama (its default, 5 minutes)', () => {
    const body: Record<string, unknown> = { model: 'm' };
    expect(enforceRequestPolicy(body, policy)).toEqual([]);
    expect(body).toEqual({ model: 'm' });
  });

  it('removes options that reload a shared model and lowers num_ctx to the maximum', () => {
    const body: Record<string, unknown> = {
      options: { num_gpu: 0, main_gpu: 1, use_mmap: false, num_thread: 2, num_batch: 8, low_vram: true, num_ctx: 1_000_000, temperature: 0.1 },
    };
    const changed = enforceRequestPolicy(body, policy);
    expect(body.options).toEqual({ num_ctx: 65_536, temperature: 0.1 });
    expect(changed).toEqual(expect.arrayContaining(['options.num_gpu', 'options.num_ctx', 'options.low_vram']));
  });

  it('keeps load options when the policy allows them, and a num_ctx within the maximum', () => {
    const body: Record<string, unknown> = { options: { num_gpu: 0, num_ctx: 8192 } };
    expect(enforceRequestPolicy(body, { ...policy, allowLoadOptions: true })).toEqual([]);
    expect(body.options).toEqual({ num_gpu: 0, num_ctx: 8192 });
  });

  it('replaces a num_ctx that is not a number', () => {
    const body: Record<string, unknown> = { options: { num_ctx: 'huge' } };
    enforceRequestPolicy(body, policy);
    expect(body.options).toEqual({ num_ctx: 65_536 });
  });
});

describe('isCloudModel', () => {
  it.each(['gpt-oss:120b-cloud', 'qwen3-coder:480b-cloud', 'glm-4.6:cloud', 'deepseek-v3.1:671B-CLOUD', 'kimi-k2-cloud'])('%s runs on ollama.com', (name) => {
    expect(isCloudModel(name)).toBe(true);
  });
  it.each(['llama3.2', 'qwen3:4b', 'soundcloud-llm:7b', 'cloudy:latest', 'my/cloud:7b'])('%s runs locally', (name) => {
    expect(isCloudModel(name)).toBe(false);
  });
});
