import { NdjsonScanner, type OllamaChunk } from '@llmproxy/ollama';

/** Pieces of generated text kept apart before they are joined into one string. */
const PIECES_JOINED = 64;

/**
 * Watches an Ollama answer (NDJSON stream or one JSON object) as it passes through and keeps what
 * metering needs: the counts of the final chunk, the text generated so far (for an estimate when the
 * stream is cut), and an in-band error. The bytes themselves are forwarded untouched by the caller.
 */
export class OllamaMeter {
  promptTokens: number | undefined;
  completionTokens: number | undefined;
  doneReason: string | undefined;
  error: string | undefined;
  /** Number of content chunks seen; each is one token in Ollama's streaming. */
  chunks = 0;
  done = false;
  /**
   * The generated text in pieces, joined every PIECES_JOINED: `+=` per token would keep a rope of two
   * heap objects per token for the whole stream (~25 bytes a token more than one flat string: 32 KB
   * instead of 7 KB for a 1,000-token answer).
   */
  private readonly pieces: string[] = [];
  private readonly scanner = new NdjsonScanner<OllamaChunk>((chunk) => this.observe(chunk));

  /** Generated text (content, thinking, response) seen so far. */
  get generated(): string {
    if (this.pieces.length > 1) this.join();
    return this.pieces[0] ?? '';
  }

  push(bytes: Buffer): void {
    this.scanner.push(bytes);
  }

  end(): void {
    this.scanner.end();
  }

  private join(): void {
    const text = this.pieces.join('');
    this.pieces.length = 0;
    this.pieces.push(text);
  }

  observe(chunk: OllamaChunk): void {
    if (chunk.error !== undefined) {
      this.error = String(chunk.error);
      return;
    }
    const text = (chunk.message?.content ?? '') + (chunk.message?.thinking ?? '') + (chunk.response ?? '') + (chunk.thinking ?? '');
    if (text) {
      if (this.pieces.push(text) >= PIECES_JOINED) this.join();
      this.chunks++;
    }
    if (chunk.done) {
      this.done = true;
      this.doneReason = chunk.done_reason;
      if (typeof chunk.prompt_eval_count === 'number') this.promptTokens = chunk.prompt_eval_count;
      if (typeof chunk.eval_count === 'number') this.completionTokens = chunk.eval_count;
    } else if (chunk.done === undefined && typeof chunk.prompt_eval_count === 'number') {
      // /api/embed answers one object without `done`.
      this.done = true;
      this.promptTokens = chunk.prompt_eval_count;
      this.completionTokens = 0;
    }
  }
}
