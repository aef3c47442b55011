/** One line of the usage log per proxied request. Never a key, a password or prompt text. */
export interface UsageRecord {
  time: string;
  request_id: string;
  key_id: number | null;
  key_name: string | null;
  dialect: 'ollama' | 'openai' | 'anthropic';
  route: string;
  model: string | null;
  status: number;
  stream: boolean;
  duration_ms: number;
  prompt_tokens?: number;
  completion_tokens?: number;
  /** false when a count came from tiktoken because Ollama did not send it. */
  tokens_exact?: boolean;
  /** The upstream (Ollama server, by its admin-given name) that answered; null when none did. */
  upstream?: string | null;
  /** Short machine-readable reason when the request did not complete normally. */
  outcome?: 'ok' | 'client_aborted' | 'upstream_error' | 'upstream_unreachable' | 'upstream_timeout' | 'refused' | 'overloaded';
}
