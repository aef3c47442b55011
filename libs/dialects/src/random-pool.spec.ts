import { randomBytesFromPool } from './random-pool.js';
import { newChatCompletionId, newToolCallId } from './openai/ids.js';
import { newMessageId } from './anthropic/ids.js';
import { newResponseId } from './responses/ids.js';

describe('randomBytesFromPool', () => {
  it('hands out the asked length, across refills, never the same bytes twice', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2_000; i++) {
      const length = 1 + (i % 29);
      const bytes = randomBytesFromPool(length);
      expect(bytes.length).toBe(length);
      if (length >= 16) {
        const hex = bytes.toString('hex');
        expect(seen.has(hex)).toBe(false);
        seen.add(hex);
      }
    }
    expect(randomBytesFromPool(10_000).length).toBe(10_000);
  });

  it('keeps the ids their shapes and unique', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 1_000; i++) {
      const chat = newChatCompletionId();
      const message = newMessageId();
      const response = newResponseId();
      expect(chat).toMatch(/^chatcmpl-[A-Za-z0-9]{29}$/);
      expect(newToolCallId()).toMatch(/^call_[a-z0-9]{8}$/);
      expect(message).toMatch(/^msg_[A-Za-z0-9]{24}$/);
      expect(response).toMatch(/^resp_[0-9a-f]{48}$/);
      for (const id of [chat, message, response]) {
        expect(ids.has(id)).toBe(false);
        ids.add(id);
      }
    }
  });
});
