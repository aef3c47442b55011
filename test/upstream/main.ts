/**
 * Standalone fake Ollama. Env: PORT (default 0 = any free port), CHUNK_DELAY_MS (default 0).
 * Run with e.g. `node --loader ts-node/esm test/upstream/main.ts`, or import and call main().
 *
 * Command line (each overrides the env): --port N, --host H, --chunk-delay-ms N,
 * --models a:latest,b:7b (completion + tools models instead of the default catalogue), and GPU mode
 * (test/upstream/gpu.ts), on when any of these is given (or --gpu): --slots N, --tokens-per-second N,
 * --answer-tokens N, --prompt-delay-ms N, --swap-delay-ms N, --max-loaded-models N.
 * The first line printed is `fake ollama listening on <url> ...`.
 */
import { pathToFileURL } from 'node:url';
import { startFakeOllama, type FakeOllama, type FakeOllamaOptions, type GpuOptions } from './fake-ollama.js';

const GPU_FLAGS: Record<string, keyof GpuOptions> = {
  '--slots': 'slots',
  '--tokens-per-second': 'tokensPerSecond',
  '--answer-tokens': 'answerTokens',
  '--prompt-delay-ms': 'promptDelayMs',
  '--swap-delay-ms': 'swapDelayMs',
  '--max-loaded-models': 'maxLoadedModels',
};

/** Options of startFakeOllama from the environment and the command line. */
export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): FakeOllamaOptions {
  let port = Number(env.PORT ?? 0);
  let host: string | undefined;
  let chunkDelayMs = Number(env.CHUNK_DELAY_MS ?? 0);
  let models: FakeOllamaOptions['models'];
  let gpu: GpuOptions | undefined;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const number = () => {
      const v = Number(value());
      if (!Number.isFinite(v)) throw new Error(`${flag} needs a number`);
      return v;
    };
    if (flag === '--port') port = number();
    else if (flag === '--host') host = value();
    else if (flag === '--chunk-delay-ms') chunkDelayMs = number();
    else if (flag === '--models') models = value().split(',').map((name) => ({ name: name.trim(), capabilities: ['completion', 'tools'] }));
    else if (flag === '--gpu') gpu ??= {};
    else if (GPU_FLAGS[flag]) (gpu ??= {})[GPU_FLAGS[flag]!] = number();
    else throw new Error(`unknown argument ${flag}`);
  }
  // In GPU mode the token rate paces the answer; CHUNK_DELAY_MS would override it.
  const defaultReply = gpu ? undefined : { chunkDelayMs };
  return { port, host, models, gpu, defaultReply };
}

export async function main(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = []): Promise<FakeOllama> {
  const options = parseArgs(argv, env);
  const fake = await startFakeOllama(options);
  const mode = fake.gpu
    ? `GPU mode: ${fake.gpu.slots} slots, ${fake.gpu.tokensPerSecond} tokens/s, ${fake.gpu.answerTokens}-token answers, prompt ${fake.gpu.promptDelayMs} ms, swap ${fake.gpu.swapDelayMs} ms, ${fake.gpu.maxLoadedModels} model(s) loaded at most`
    : `chunk delay ${options.defaultReply?.chunkDelayMs ?? 0} ms`;
  console.log(`fake ollama listening on ${fake.url} (${mode})`);
  const stop = () => void fake.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return fake;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main(process.env, process.argv.slice(2));
