import { UpstreamError } from './upstream.js';

const NEWLINE = 0x0a;

/**
 * The longest line held while waiting for its newline: 256 MiB. Ollama's longest lines are whole
 * answers sent at once, and the longest of those is /api/embed for a batch — 2,048 inputs (OpenAI's
 * cap) of 4,096 dimensions at about 13 bytes a number is some 110 MB. Twice that passes; past it
 * the upstream is broken, and V8 could not turn a line much over 512 MiB into a string anyway.
 */
export const MAX_LINE_BYTES = 256 * 1024 * 1024;

/**
 * Splits an NDJSON byte stream into parsed lines as chunks arrive. Lines are cut at the newline
 * byte before decoding, so a multibyte character split across two TCP reads is decoded whole.
 * Lines that are not JSON, or not a JSON object (`null`, `42`, `[…]` — never a line of Ollama's),
 * are handed to `onInvalid` rather than thrown or passed on to code that reads fields of an object.
 */
export class NdjsonScanner<T = unknown> {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly onLine: (value: T) => void,
    private readonly onInvalid: (line: string) => void = () => undefined,
    private readonly maxLineBytes = MAX_LINE_BYTES,
  ) {}

  /** Throws an UpstreamError ('broken') once a line grows past `maxLineBytes` without a newline. */
  push(chunk: Buffer): void {
    let start = 0;
    let newline = chunk.indexOf(NEWLINE, start);
    while (newline !== -1) {
      const piece = chunk.subarray(start, newline);
      this.hold(piece.length);
      if (this.pending.length > 0) {
        this.pending.push(piece);
        this.emit(Buffer.concat(this.pending));
        this.pending = [];
      } else {
        this.emit(piece);
      }
      this.pendingBytes = 0;
      start = newline + 1;
      newline = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) {
      this.hold(chunk.length - start);
      this.pending.push(chunk.subarray(start));
    }
  }

  /** The stream ended: a last line without a trailing newline still counts. */
  end(): void {
    if (this.pending.length > 0) this.emit(Buffer.concat(this.pending));
    this.pending = [];
    this.pendingBytes = 0;
  }

  private hold(bytes: number): void {
    this.pendingBytes += bytes;
    if (this.pendingBytes <= this.maxLineBytes) return;
    this.pending = [];
    this.pendingBytes = 0;
    throw new UpstreamError('broken', `Ollama sent a line longer than ${describeBytes(this.maxLineBytes)} without ending it; the answer was given up`);
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

function describeBytes(bytes: number): string {
  return bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0 ? `${bytes / 1024 / 1024} MiB` : `${bytes} bytes`;
}
