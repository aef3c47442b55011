import { toCsv } from './csv.js';

describe('toCsv', () => {
  it('writes a header and rows with CRLF, quoting only where needed', () => {
    expect(toCsv(['a', 'b'], [[1, 'plain'], [null, 'with, comma'], [2, 'say "hi"'], [3, 'two\nlines'], [4, ' padded']])).toBe(
      'a,b\r\n1,plain\r\n,"with, comma"\r\n2,"say ""hi"""\r\n3,"two\nlines"\r\n4," padded"\r\n',
    );
  });

  it('writes only the header for no rows', () => {
    expect(toCsv(['a', 'b'], [])).toBe('a,b\r\n');
  });
});
