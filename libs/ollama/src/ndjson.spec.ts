import { MAX_LINE_BYTES, NdjsonScanner } from './ndjson.js';
import { UpstreamError } from './upstream.js';

function scan(chunks: Buffer[]) {
  const lines: unknown[] = [];
  const invalid: string[] = [];
  const scanner = new NdjsonScanner((line) => lines.push(line), (line) => invalid.push(line));
  for (const chunk of chunks) scanner.push(chunk);
  scanner.end();
  return { lines, invalid };
}

describe('NdjsonScanner', () => {
  it('parses one object per line', () => {
    const { lines } = scan([Buffer.from('{"a":1}\n{"b":2}\n')]);
    expect(lines).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('joins a line split across chunks, also inside a multibyte character', () => {
    const bytes = Buffer.from('{"t":"grüß 🦙"}\n{"done":true}\n');
    const cut = bytes.indexOf(0x9f); // inside the llama emoji's four bytes
    const { lines } = scan([bytes.subarray(0, 5), bytes.subarray(5, cut), bytes.subarray(cut)]);
    expect(lines).toEqual([{ t: 'grüß 🦙' }, { done: true }]);
  });

  it('takes a last line without newline and skips blank lines', () => {
    expect(scan([Buffer.from('\n{"a":1}\n\n{"b":2}')]).lines).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('reports lines that are not JSON without stopping', () => {
    const { lines, invalid } = scan([Buffer.from('{"a":1}\nnot json\n{"b":2}\n')]);
    expect(lines).toEqual([{ a: 1 }, { b: 2 }]);
    expect(invalid).toEqual(['not json']);
  });

  it('reports JSON lines that are not objects (null, numbers, strings, arrays) instead of passing them on', () => {
    const { lines, invalid } = scan([Buffer.from('null\n42\n"s"\n[1]\ntrue\n{"a":1}\n')]);
    expect(lines).toEqual([{ a: 1 }]);
    expect(invalid).toEqual(['null', '42', '"s"', '[1]', 'true']);
  });
});

describe('NdjsonScanner line cap', () => {
  const capped = (max: number) => {
    const lines: unknown[] = [];
    return { lines, scanner: new NdjsonScanner((line) => lines.push(line), undefined, max) };
  };

  it('takes a line of exactly the cap, also across chunks, and counts each line afresh', () => {
    const { lines, scanner } = capped(11); // each line is 11 bytes
    scanner.push(Buffer.from('{"a":"1'));
    scanner.push(Buffer.from('23"}\n{"b":"456"}\n{"c":'));
    scanner.push(Buffer.from('"789"}'));
    scanner.end();
    expect(lines).toEqual([{ a: '123' }, { b: '456' }, { c: '789' }]);
  });

  it('throws an UpstreamError (broken, 502) naming the cap once a line grows past it without a newline', () => {
    const { lines, scanner } = capped(1024 * 1024);
    scanner.push(Buffer.from('{"ok":1}\n{"content":"'));
    const piece = Buffer.alloc(64 * 1024, 'a');
    let thrown: unknown;
    try {
      for (let i = 0; i < 17; i++) scanner.push(piece);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UpstreamError);
    expect(thrown).toMatchObject({ failure: 'broken', status: 502, message: 'Ollama sent a line longer than 1 MiB without ending it; the answer was given up' });
    expect(lines).toEqual([{ ok: 1 }]);
  });

  it('throws for a single chunk holding a line longer than the cap', () => {
    expect(() => capped(4).scanner.push(Buffer.from('{"a":1}\n'))).toThrow('Ollama sent a line longer than 4 bytes');
  });

  it('defaults to MAX_LINE_BYTES, 256 MiB', () => {
    expect(MAX_LINE_BYTES).toBe(256 * 1024 * 1024);
  });
});
