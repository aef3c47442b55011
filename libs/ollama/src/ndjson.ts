const NEWLINE = 0x0a;

/**
 * Splits an NDJSON byte stream into parsed lines as chunks arrive. Lines are cut at the newline
 * byte before decoding, so a multibyte character split across two TCP reads is decoded whole.
 * Lines that are not JSON, or not a JSON object (`null`, `42`, `[…]` — never a line of Ollama's),
 * are handed to `onInvalid` rather than thrown or passed on to code that reads fields of an object.
 */
export class NdjsonScanner<T = unknown> {
  private pending: Buffer[] = [];

  constructor(
    private readonly onLine: (value: T) => void,
    private readonly onInvalid: (line: string) => void = () => undefined,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    let newline = chunk.indexOf(NEWLINE, start);
    while (newline !== -1) {
      const piece = chunk.subarray(start, newline);
      if (this.pending.length > 0) {
        this.pending.push(piece);
        this.emit(Buffer.concat(this.pending));
        this.pending = [];
      } else {
        this.emit(piece);
      }
      start = newline + 1;
      newline = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) this.pending.push(chunk.subarray(start));
  }

  /** The stream ended: a last line without a trailing newline still counts. */
  end(): void {
    if (this.pending.length > 0) this.emit(Buffer.concat(this.pending));
    this.pending = [];
  }

  private emit(bytes: Buffer): void {
    const line = bytes.toString('utf8').trim();
    if (line === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      this.onInvalid(line);
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.onInvalid(line);
      return;
    }
    this.onLine(value as T);
  }
}
