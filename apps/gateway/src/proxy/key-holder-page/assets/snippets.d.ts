/** Types of snippets.js (plain JavaScript the browser runs unbuilt; see there). */
export interface Snippet {
  id: 'curl' | 'openai' | 'openai-js' | 'anthropic' | 'claude-code' | 'claude-code-env' | 'codex';
  label: string;
  code: string;
}

export function buildSnippets(origin: string, key: string, model: string): Snippet[];
