import { NdjsonScanner } from './ndjson.js';

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
