import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { UsageRecord } from '@llmproxy/metering';

export interface UsageLogContents {
  /** Every complete line (ended by a newline), parsed; a complete line that is not JSON throws. */
  lines: UsageRecord[];
  /** Text after the last newline of a file: a line cut short by a killed process. */
  cut: string[];
}

/**
 * The usage log a gateway with `LOG_FILE=logFile` wrote: every daily file (`usage-YYYY-MM-DD.log`
 * beside `usage.log`, so a run across midnight is read whole), oldest first.
 */
export function readUsageLog(logFile: string): UsageLogContents {
  const dir = dirname(logFile);
  const extension = extname(logFile) || '.log';
  const daily = new RegExp(`^${basename(logFile, extension)}-\\d{4}-\\d\\d-\\d\\d${extension.replace('.', '\\.')}$`);
  const files = existsSync(dir) ? readdirSync(dir).filter((name) => daily.test(name)).sort() : [];
  const contents: UsageLogContents = { lines: [], cut: [] };
  for (const file of files) {
    const text = readFileSync(join(dir, file), 'utf8');
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) contents.cut.push(text.slice(end));
    for (const [index, line] of text.slice(0, end).split('\n').slice(0, -1).entries()) {
      try {
        contents.lines.push(JSON.parse(line) as UsageRecord);
      } catch {
        throw new Error(`${file} line ${index + 1} is complete but not JSON: ${line.slice(0, 200)}`);
      }
    }
  }
  return contents;
}

/** Requests and tokens (prompt + completion) of one key's lines: every line but a refusal is a counted request. */
export function usageOfKey(lines: UsageRecord[], keyId: number): { requests: number; tokens: number } {
  const own = lines.filter((line) => line.key_id === keyId);
  return {
    requests: own.filter((line) => line.outcome !== 'refused').length,
    tokens: own.reduce((sum, line) => sum + (line.prompt_tokens ?? 0) + (line.completion_tokens ?? 0), 0),
  };
}
