import type { OllamaChatRequest, OllamaMessage, OllamaOptions, OllamaTool, OllamaToolCall } from '@llmproxy/ollama';
import { DialectError } from '../dialect-error.js';
import { contentBlocks, isObject, systemTexts, toolResultText, type JsonObject } from './content.js';

export interface MessagesRequestContext {
  /** The Ollama model the caller resolved the client's name to. */
  model: string;
  /** Context window to ask Ollama for (Claude Code's prompts need 64k or more). */
  numCtx?: number;
  /** Whether `/api/show` lists the `thinking` capability; Ollama answers 400 to `think` otherwise. */
  thinkingCapable: boolean;
}

export interface TranslatedMessagesRequest {
  request: OllamaChatRequest;
  /** The client's `stream` flag; `request.stream` carries the same value. */
  stream: boolean;
  /** The client's model name, echoed in the response's `model`. */
  requestedModel: string;
}

/** Separator between system parts and between text blocks of one message. */
const PART_SEPARATOR = '\n\n';

function invalid(param: string, problem: string): DialectError {
  return new DialectError(400, `${param}: ${problem}`, param);
}

/**
 * Translates an Anthropic Messages request body into an Ollama `/api/chat` request. Only the fields the
 * translation reads are validated (→ DialectError 400); everything else (cache_control, metadata,
 * context_management, output_config, beta fields…) is ignored.
 */
export function translateMessagesRequest(body: unknown, ctx: MessagesRequestContext): TranslatedMessagesRequest {
  if (!isObject(body)) throw new DialectError(400, 'Request body must be a JSON object');

  const requestedModel = body.model;
  if (typeof requestedModel !== 'string' || requestedModel.trim() === '') {
    throw invalid('model', 'Field required (a model name)');
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw invalid('messages', 'Field required (a non-empty array of messages)');
  }
  const stream = body.stream === true;

  const system = systemTexts(body.system);
  if (system === null) throw invalid('system', 'must be a string or an array of text blocks');

  const conversation = new Conversation(system);
  body.messages.forEach((message, index) => conversation.add(message, `messages.${index}`));

  const messages: OllamaMessage[] = [];
  if (conversation.system.length > 0) messages.push({ role: 'system', content: conversation.system.join(PART_SEPARATOR) });
  messages.push(...conversation.messages);

  const request: OllamaChatRequest = { model: ctx.model, messages, stream };
  const tools = translateTools(body.tools, body.tool_choice);
  if (tools.length > 0) request.tools = tools;
  const options = translateOptions(body, ctx);
  if (Object.keys(options).length > 0) request.options = options;
  const think = translateThinking(body.thinking, ctx.thinkingCapable);
  if (think !== undefined) request.think = think;

  return { request, stream, requestedModel };
}

/**
 * Walks the messages in order, collecting system texts apart and remembering tool_use ids so tool
 * results can name their tool.
 */
class Conversation {
  readonly messages: OllamaMessage[] = [];
  private readonly toolNames = new Map<string, string>();

  constructor(readonly system: string[]) {}

  add(message: unknown, param: string): void {
    if (!isObject(message)) throw invalid(param, 'must be an object with role and content');
    const { role } = message;
    if (role !== 'user' && role !== 'assistant' && role !== 'system') {
      throw invalid(`${param}.role`, `must be "user", "assistant" or "system", got ${JSON.stringify(role)}`);
    }
    const blocks = contentBlocks(message.content);
    if (blocks === null) throw invalid(`${param}.content`, 'must be a string or an array of content blocks');

    if (role === 'system') {
      // Claude Code (2.1.154+) sends these mid-conversation; Ollama's templates expect one leading system prompt.
      const texts = systemTexts(blocks);
      if (texts) this.system.push(...texts);
      return;
    }

    const texts: string[] = [];
    const images: string[] = [];
    const thinking: string[] = [];
    const toolCalls: OllamaToolCall[] = [];
    const toolResults: OllamaMessage[] = [];

    blocks.forEach((block, index) => {
      const at = `${param}.content.${index}`;
      if (!isObject(block)) return;
      switch (block.type) {
        case 'text':
          if (typeof block.text === 'string' && block.text !== '') texts.push(block.text);
          break;
        case 'image':
          images.push(imageData(block, at));
          break;
        case 'thinking':
          // The signature only means something to Anthropic's servers.
          if (typeof block.thinking === 'string' && block.thinking !== '') thinking.push(block.thinking);
          break;
        case 'tool_use':
          toolCalls.push(this.toolCall(block, at));
          break;
        case 'tool_result':
          toolResults.push(this.toolResult(block, at));
          break;
        // redacted_thinking is encrypted for Anthropic's models; documents, server tool blocks and
        // anything newer are ignored rather than refused.
      }
    });

    const own: OllamaMessage = { role, content: texts.join(PART_SEPARATOR) };
    if (images.length > 0) own.images = images;
    if (thinking.length > 0) own.thinking = thinking.join(PART_SEPARATOR);
    if (toolCalls.length > 0) own.tool_calls = toolCalls;
    const hasOwn = own.content !== '' || images.length > 0 || thinking.length > 0 || toolCalls.length > 0;

    // A user turn answering tool calls must put the results right after the assistant's calls.
    if (role === 'user') this.messages.push(...toolResults);
    if (hasOwn) this.messages.push(own);
    if (role === 'assistant') this.messages.push(...toolResults);
  }

  private toolCall(block: JsonObject, at: string): OllamaToolCall {
    if (typeof block.name !== 'string' || block.name === '') throw invalid(`${at}.name`, 'Field required');
    const call: OllamaToolCall = { function: { name: block.name, arguments: isObject(block.input) ? block.input : {} } };
    if (typeof block.id === 'string' && block.id !== '') {
      call.id = block.id;
      this.toolNames.set(block.id, block.name);
    }
    return call;
  }

  private toolResult(block: JsonObject, at: string): OllamaMessage {
    let content = toolResultText(block.content);
    if (block.is_error === true) content = `Error: ${content}`;
    const result: OllamaMessage = { role: 'tool', content };
    if (Array.isArray(block.content)) {
      const images = block.content
        .map((inner, index) => ({ inner, index }))
        .filter(({ inner }) => isObject(inner) && inner.type === 'image')
        .map(({ inner, index }) => imageData(inner as JsonObject, `${at}.content.${index}`));
      if (images.length > 0) result.images = images;
    }
    if (typeof block.tool_use_id === 'string' && block.tool_use_id !== '') {
      const name = this.toolNames.get(block.tool_use_id);
      if (name) result.tool_name = name;
      result.tool_call_id = block.tool_use_id;
    }
    return result;
  }
}

/** The raw base64 of an image block; Ollama cannot fetch URLs (nor should a gateway do it for it). */
function imageData(block: JsonObject, at: string): string {
  const source = block.source;
  if (!isObject(source)) throw invalid(`${at}.source`, 'Field required');
  if (source.type === 'url') {
    throw invalid(`${at}.source`, 'URL image sources are not supported; send the image as base64 (source.type "base64")');
  }
  if (source.type !== 'base64') {
    throw invalid(`${at}.source.type`, `image source type ${JSON.stringify(source.type)} is not supported; use "base64"`);
  }
  if (typeof source.data !== 'string' || source.data === '') throw invalid(`${at}.source.data`, 'Field required');
  // Tolerate a data URL where raw base64 is expected; Ollama wants the bare payload.
  const comma = source.data.startsWith('data:') ? source.data.indexOf(',') : -1;
  return comma >= 0 ? source.data.slice(comma + 1) : source.data;
}

/**
 * Client tools (those with an `input_schema`) become Ollama function tools. Server tools (web_search,
 * code_execution, …) have no schema and nothing on this side could run them: they are dropped.
 *
 * `tool_choice`: `none` sends no tools; `auto` (the default) sends them all. Ollama has no way to force a
 * call, so `any` sends them all and `tool` sends only the named one — the model is then likely, but not
 * certain, to call it.
 */
function translateTools(tools: unknown, toolChoice: unknown): OllamaTool[] {
  if (tools === undefined || tools === null) return [];
  if (!Array.isArray(tools)) throw invalid('tools', 'must be an array');
  const choice = isObject(toolChoice) ? toolChoice : {};
  if (choice.type === 'none') return [];

  const translated: OllamaTool[] = [];
  tools.forEach((tool, index) => {
    if (!isObject(tool) || !isObject(tool.input_schema)) return;
    if (typeof tool.name !== 'string' || tool.name === '') throw invalid(`tools.${index}.name`, 'Field required');
    const fn: OllamaTool['function'] = { name: tool.name, parameters: tool.input_schema };
    if (typeof tool.description === 'string') fn.description = tool.description;
    translated.push({ type: 'function', function: fn });
  });

  if (choice.type !== 'tool') return translated;
  if (typeof choice.name !== 'string') throw invalid('tool_choice.name', 'Field required when type is "tool"');
  const named = translated.filter((tool) => tool.function.name === choice.name);
  const declared = tools.some((tool) => isObject(tool) && tool.name === choice.name);
  if (!declared) throw invalid('tool_choice.name', `no tool named ${JSON.stringify(choice.name)} in tools`);
  return named;
}

function optionalNumber(body: JsonObject, field: string, integer = false): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  // Safe integers only: 1e308 or 2**63 would reach Ollama as a number its Go int cannot hold.
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isSafeInteger(value))) {
    throw invalid(field, integer ? `must be an integer (at most ${Number.MAX_SAFE_INTEGER})` : 'must be a number');
  }
  return value;
}

function translateOptions(body: JsonObject, ctx: MessagesRequestContext): OllamaOptions {
  const options: OllamaOptions = {};
  // Anthropic requires max_tokens; a missing one just leaves Ollama's own limit in place.
  const maxTokens = optionalNumber(body, 'max_tokens', true);
  if (maxTokens !== undefined) {
    if (maxTokens < 1) throw invalid('max_tokens', 'must be a positive integer');
    options.num_predict = maxTokens;
  }
  const temperature = optionalNumber(body, 'temperature');
  if (temperature !== undefined) options.temperature = temperature;
  const topP = optionalNumber(body, 'top_p');
  if (topP !== undefined) options.top_p = topP;
  const topK = optionalNumber(body, 'top_k', true);
  if (topK !== undefined) options.top_k = topK;

  const stop = body.stop_sequences;
  if (stop !== undefined && stop !== null) {
    if (!Array.isArray(stop) || !stop.every((entry) => typeof entry === 'string')) {
      throw invalid('stop_sequences', 'must be an array of strings');
    }
    if (stop.length > 0) options.stop = stop as string[];
  }
  if (ctx.numCtx !== undefined) options.num_ctx = ctx.numCtx;
  return options;
}

/**
 * Anthropic's thinking is opt-in, Ollama's is on by default for a capable model. So a capable model gets
 * an explicit `think` either way: `true` for `enabled`/`adaptive`, `false` for `disabled` or no
 * `thinking` at all (otherwise a side request such as a title with a small max_tokens would spend it
 * all on thinking and answer nothing). A model without the capability gets no `think`: Ollama would
 * answer 400 to `true`, and there is nothing to turn off. `budget_tokens` and output_config.effort have
 * no Ollama counterpart that works across models and are ignored.
 */
function translateThinking(thinking: unknown, capable: boolean): boolean | undefined {
  if (!capable) return undefined;
  if (!isObject(thinking)) return false;
  return thinking.type === 'enabled' || thinking.type === 'adaptive';
}
