import { OllamaMeter } from './ollama-meter.js';

describe('OllamaMeter', () => {
  const line = (chunk: object) => Buffer.from(`${JSON.stringify(chunk)}\n`);

  it('keeps the generated text of a long stream whole, read at any point, joined or not', () => {
    const meter = new OllamaMeter();
    let expected = '';
    for (let i = 0; i < 200; i++) {
      const content = `tok${i} `;
      const thinking = i % 7 === 0 ? `think${i}` : undefined;
      meter.push(line({ model: 'm', message: { role: 'assistant', content, ...(thinking ? { thinking } : {}) }, done: false }));
      expected += content + (thinking ?? '');
      if (i === 10 || i === 63 || i === 64 || i === 130) expect(meter.generated).toBe(expected);
    }
    meter.push(line({ model: 'm', message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop', prompt_eval_count: 12, eval_count: 200 }));
    meter.end();
    expect(meter.generated).toBe(expected);
    expect(meter.chunks).toBe(200);
    expect([meter.done, meter.promptTokens, meter.completionTokens]).toEqual([true, 12, 200]);
  });

  it('has no text before the first chunk and keeps /api/generate answers', () => {
    const meter = new OllamaMeter();
    expect(meter.generated).toBe('');
    meter.push(line({ model: 'm', response: 'Hello', done: false }));
    meter.push(line({ model: 'm', response: ' world', done: true }));
    expect(meter.generated).toBe('Hello world');
  });
});
