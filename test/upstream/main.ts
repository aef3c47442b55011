/**
 * Standalone fake Ollama. Env: PORT (default 0 = any free port), CHUNK_DELAY_MS (default 0).
 * Run with e.g. `node --loader ts-node/esm test/upstream/main.ts`, or import and call main().
 */
import { pathToFileURL } from 'node:url';
import { startFakeOllama, type FakeOllama } from './fake-ollama.js';

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<FakeOllama> {
  const port = Number(env.PORT ?? 0);
  const chunkDelayMs = Number(env.CHUNK_DELAY_MS ?? 0);
  const fake = await startFakeOllama({ port, defaultReply: { chunkDelayMs } });
  console.log(`fake ollama listening on ${fake.url} (chunk delay ${chunkDelayMs} ms)`);
  const stop = () => void fake.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return fake;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
