import { BadGatewayException, Injectable } from '@nestjs/common';
import axios, { type AxiosInstance } from 'axios';
import type { OllamaStatus } from '@llmproxy/api-types';
import { publicUrl, type TagEntry } from '@llmproxy/ollama';
import { mergeTags } from '@llmproxy/upstreams';

export type { OllamaStatus };

/** How long the admin waits for Ollama before calling it unreachable. */
const TIMEOUT_MS = 3_000;

/**
 * The admin's questions to Ollama (is it there, which models does it have), asked fresh each time
 * with a short timeout: the proxy's cached catalogue would hide a URL that just stopped answering.
 */
@Injectable()
export class OllamaProbe {
  // proxy: false — like the data plane (undici), ignore HTTP(S)_PROXY: Ollama is usually local.
  private readonly http: AxiosInstance = axios.create({ timeout: TIMEOUT_MS, proxy: false, maxRedirects: 0 });

  /** GET /api/version; never throws. */
  async status(baseUrl: string): Promise<OllamaStatus> {
    try {
      const response = await this.http.get<{ version?: unknown }>(`${baseUrl}/api/version`);
      if (typeof response.data?.version !== 'string') {
        return { reachable: false, error: `${publicUrl(baseUrl)} answered GET /api/version, but not like Ollama (no version)` };
      }
      return { reachable: true, version: response.data.version };
    } catch (error) {
      return { reachable: false, error: describeFailure(error, baseUrl, '/api/version') };
    }
  }

  /**
   * The models of several servers, asked fresh and merged by name (the first listed wins); throws the
   * first server's 502 when none answers. Servers that do not answer are left out.
   */
  async modelsOf(baseUrls: readonly string[]): Promise<TagEntry[]> {
    const answers = await Promise.allSettled(baseUrls.map((url) => this.models(url)));
    const failed = answers.find((answer): answer is PromiseRejectedResult => answer.status === 'rejected');
    if (failed && answers.every((answer) => answer.status === 'rejected')) throw failed.reason;
    if (baseUrls.length === 0) throw new BadGatewayException('no Ollama server is configured and enabled (see Upstreams)');
    return mergeTags(answers.map((answer) => (answer.status === 'fulfilled' ? answer.value : [])));
  }

  /** GET /api/tags; throws 502 with a readable message when Ollama does not answer. */
  async models(baseUrl: string): Promise<TagEntry[]> {
    try {
      const response = await this.http.get<{ models?: TagEntry[] }>(`${baseUrl}/api/tags`);
      if (!Array.isArray(response.data?.models)) throw new Error('not like Ollama (no models list)');
      return response.data.models;
    } catch (error) {
      throw new BadGatewayException(describeFailure(error, baseUrl, '/api/tags'));
    }
  }
}

/** What went wrong, naming Ollama's URL without the credentials it may carry (admins read it, and the UI shows it). */
function describeFailure(error: unknown, configuredUrl: string, path: string): string {
  const baseUrl = publicUrl(configuredUrl);
  if (axios.isAxiosError(error)) {
    if (error.response) return `Ollama at ${baseUrl} answered GET ${path} with HTTP ${error.response.status}`;
    if (error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT') return `Ollama at ${baseUrl} did not answer within ${TIMEOUT_MS / 1000} s`;
    return `Ollama at ${baseUrl} is unreachable (${error.code ?? error.message})`;
  }
  return `Ollama at ${baseUrl} answered GET ${path} ${error instanceof Error ? error.message : String(error)}`;
}
