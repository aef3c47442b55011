export type Dialect = 'ollama' | 'openai' | 'anthropic';

/** Which dialect a proxy path speaks, for errors raised before a controller runs (auth, body parsing, 404). */
export function dialectForPath(path: string): Dialect {
  if (path.startsWith('/v1/messages')) return 'anthropic';
  if (path.startsWith('/v1/')) return 'openai';
  return 'ollama';
}
