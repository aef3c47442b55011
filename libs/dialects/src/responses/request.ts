import type { OllamaChatRequest, OllamaMessage, OllamaOptions, OllamaTool, OllamaToolCall } from '@llmproxy/ollama';
import {
  imageDataUrl,
  invalid,
  isObject,
  parseToolArguments,
  optionalBoolean,
  optionalInteger,
  optionalNumber,
  optionalString,
  requireBody,
  requireModel,
  wrongType,
  type JsonObject,
} from '../openai/fields.js';
import type { ResponseObject } from './types.js';

export interface ResponsesRequestContext {
  /** The Ollama model the caller resolved the client's `model` to. */
  model: string;
  /** Context window to ask Ollama for (`options.num_ctx`); Ollama's default when absent. */
  numCtx?: number;
  /** Whether the model has Ollama's `thinking` capability; `think` is never sent otherwise (Ollama 400s). */
  thinkingCapable: boolean;
}

/** A function the model sees under a flat name, declared by the client inside a `namespace` tool. */
export interface NamespacedFunction {
  namespace: string;
  name: string;
}

/** What a response repeats of its request (OpenAI echoes these in every Response object). */
export type ResponseEcho = Pick<
  ResponseObject,
  | 'instructions'
  | 'max_output_tokens'
  | 'parallel_tool_calls'
  | 'prompt_cache_key'
  | 'reasoning'
  | 'temperature'
  | 'text'
  | 'tool_choice'
  | 'tools'
  | 'top_p'
  | 'metadata'
>;

export interface TranslatedResponsesRequest {
  request: OllamaChatRequest;
  stream: boolean;
  /** The model name the client sent, echoed in every response. */
  requestedModel: string;
  echo: ResponseEcho;
  /** Flat names the model calls → the namespace and name the client declared (see flatName). */
  namespaced: Record<string, NamespacedFunction>;
  /** Tool types the model was not shown (hosted tools such as `web_search`), in request order. */
  droppedTools: string[];
}

/** Why a field that needs server-side state is refused; Codex sends `store: false` and the whole history. */
const STATELESS =
  'llmproxy keeps no state between requests (it stores no responses or conversations): send the whole conversation in `input`, with `store: false`.';

/** `reasoning.effort` to Ollama `think`, as the chat completions dialect maps `reasoning_effort`. */
const THINK_BY_EFFORT: Record<string, OllamaChatRequest['think']> = {
  none: false,
  minimal: false,
  low: 'low',
  medium: 'medium',
  high: 'high',
  xhigh: 'high',
};

const ROLES: Record<string, OllamaMessage['role']> = {
  system: 'system',
  developer: 'system',
  user: 'user',
  assistant: 'assistant',
};

/**
 * The name a namespaced function gets in the flat list Ollama takes. Namespaces that already end in a
 * separator (Codex's `mcp__server__`) are joined as they are; others get `__`, so the name stays
 * within OpenAI's `[A-Za-z0-9_-]` and most chat templates' expectations.
 */
export function flatName(namespace: string, name: string): string {
  return /[_.:-]$/.test(namespace) ? `${namespace}${name}` : `${namespace}__${name}`;
}

/**
 * Translates a Responses API body into an Ollama /api/chat request. Validates only what it reads;
 * other fields (include, prompt_cache_key, client_metadata, service_tier, …) are ignored. Throws
 * DialectError (400, with `param`) for what the client got wrong or what needs server-side state.
 */
export function translateResponsesRequest(body: unknown, ctx: ResponsesRequestContext): TranslatedResponsesRequest {
  const input = requireBody(body);
  const requestedModel = requireModel(input);
  refuseState(input);

  const instructions = optionalString(input, 'instructions');
  const tools = translateTools(input.tools, input.tool_choice);
  const messages = translateInput(input.input, tools.namespaced);
  if (instructions) messages.unshift({ role: 'system', content: instructions });

  const request: OllamaChatRequest = { model: ctx.model, messages };
  if (tools.tools.length > 0) request.tools = tools.tools;

  const maxOutputTokens = optionalInteger(input, 'max_output_tokens', 'max_output_tokens', 1);
  const temperature = optionalNumber(input, 'temperature');
  const topP = optionalNumber(input, 'top_p');
  const options: OllamaOptions = {};
  if (temperature !== undefined) options.temperature = temperature;
  if (topP !== undefined) options.top_p = topP;
  if (maxOutputTokens !== undefined) options.num_predict = maxOutputTokens;
  if (ctx.numCtx !== undefined) options.num_ctx = ctx.numCtx;
  if (Object.keys(options).length > 0) request.options = options;

  const text = translateText(input.text);
  if (text.format !== undefined) request.format = text.format;

  const reasoning = readReasoning(input.reasoning);
  if (reasoning.think !== undefined && ctx.thinkingCapable) request.think = reasoning.think;

  const stream = optionalBoolean(input, 'stream') ?? false;
  request.stream = stream;

  const echo: ResponseEcho = {
    instructions: instructions ?? null,
    max_output_tokens: maxOutputTokens ?? null,
    parallel_tool_calls: optionalBoolean(input, 'parallel_tool_calls') ?? true,
    prompt_cache_key: typeof input.prompt_cache_key === 'string' ? input.prompt_cache_key : null,
    reasoning: { effort: reasoning.effort ?? null, summary: reasoning.summary ?? null },
    temperature: temperature ?? null,
    text: { format: text.echo },
    tool_choice: input.tool_choice ?? 'auto',
    tools: Array.isArray(input.tools) ? input.tools : [],
    top_p: topP ?? null,
    metadata: isObject(input.metadata) ? input.metadata : {},
  };
  return { request, stream, requestedModel, echo, namespaced: tools.namespaced, droppedTools: tools.dropped };
}

function refuseState(input: JsonObject): void {
  const present = (value: unknown) => value !== undefined && value !== null && value !== '';
  if (present(input.previous_response_id)) {
    throw invalid('previous_response_id', `'previous_response_id' is not supported: ${STATELESS}`);
  }
  if (present(input.conversation)) throw invalid('conversation', `'conversation' is not supported: ${STATELESS}`);
  if (input.store === true) throw invalid('store', `'store: true' is not supported: ${STATELESS}`);
  if (input.background === true) throw invalid('background', `'background: true' is not supported: ${STATELESS}`);
}

function translateInput(value: unknown, namespaced: Record<string, NamespacedFunction>): OllamaMessage[] {
  if (typeof value === 'string') return [{ role: 'user', content: value }];
  if (!Array.isArray(value)) {
    if (value === undefined || value === null) throw invalid('input', "Missing required parameter: 'input'.");
    throw wrongType('input', 'a string or an array of input items');
  }
  const flatByMember = new Map<string, string>();
  for (const [flat, fn] of Object.entries(namespaced)) flatByMember.set(`${fn.namespace}\u0000${fn.name}`, flat);

  const messages: OllamaMessage[] = [];
  const toolNames = new Map<string, string>();
  // A reasoning item precedes the assistant turn it belongs to; its text becomes that turn's thinking.
  let pendingThinking = '';
  const lastAssistant = (): OllamaMessage | undefined => {
    const last = messages.at(-1);
    return last?.role === 'assistant' ? last : undefined;
  };
  const attachThinking = (message: OllamaMessage) => {
    if (pendingThinking !== '' && !message.thinking) message.thinking = pendingThinking;
    pendingThinking = '';
  };

  value.forEach((item: unknown, i) => {
    const param = `input[${i}]`;
    if (!isObject(item)) throw wrongType(param, 'an object');
    const type = item.type ?? (item.role !== undefined ? 'message' : undefined);
    switch (type) {
      case 'message': {
        const known = typeof item.role === 'string' && Object.hasOwn(ROLES, item.role);
        if (!known) {
          throw invalid(`${param}.role`, `Invalid value for '${param}.role': expected one of user, assistant, system, developer.`);
        }
        const message: OllamaMessage = { role: ROLES[item.role as string], ...translateContent(item.content, `${param}.content`) };
        if (message.role === 'assistant') attachThinking(message);
        messages.push(message);
        return;
      }
      case 'function_call': {
        const name = optionalString(item, 'name', `${param}.name`);
        if (!name) throw invalid(`${param}.name`, `Missing required parameter: '${param}.name'.`);
        const callId = optionalString(item, 'call_id', `${param}.call_id`);
        if (!callId) throw invalid(`${param}.call_id`, `Missing required parameter: '${param}.call_id'.`);
        const namespace = optionalString(item, 'namespace', `${param}.namespace`);
        const modelName = namespace ? (flatByMember.get(`${namespace}\u0000${name}`) ?? flatName(namespace, name)) : name;
        const call: OllamaToolCall = {
          id: callId,
          function: { name: modelName, arguments: parseToolArguments(item.arguments, `${param}.arguments`) },
        };
        toolNames.set(callId, modelName);
        // Parallel calls arrive as consecutive items: they join one assistant turn, as Ollama produced them.
        const target = lastAssistant();
        if (target) {
          target.tool_calls = [...(target.tool_calls ?? []), call];
          attachThinking(target);
        } else {
          const message: OllamaMessage = { role: 'assistant', content: '', tool_calls: [call] };
          attachThinking(message);
          messages.push(message);
        }
        return;
      }
      case 'function_call_output': {
        const callId = optionalString(item, 'call_id', `${param}.call_id`);
        if (!callId) throw invalid(`${param}.call_id`, `Missing required parameter: '${param}.call_id'.`);
        const output = item.output;
        const content =
          typeof output === 'string' ? { content: output } : translateContent(output, `${param}.output`);
        const message: OllamaMessage = { role: 'tool', ...content, tool_call_id: callId };
        const toolName = toolNames.get(callId);
        if (toolName) message.tool_name = toolName;
        messages.push(message);
        return;
      }
      case 'reasoning': {
        const text = reasoningText(item);
        if (text !== '') pendingThinking = pendingThinking === '' ? text : `${pendingThinking}\n\n${text}`;
        return;
      }
      case 'item_reference':
        throw invalid(`${param}.type`, `Input items of type 'item_reference' are not supported: ${STATELESS}`);
      default:
        throw invalid(
          `${param}.type`,
          `Unsupported input item type for '${param}.type': expected message, function_call, function_call_output or reasoning.`,
        );
    }
  });
  // Reasoning with no assistant turn after it (an interrupted turn) has nothing to attach to: dropped.
  return messages;
}

/** The model's own words of a reasoning item: its full `content` when sent, else its summaries. */
function reasoningText(item: JsonObject): string {
  const texts = (parts: unknown) =>
    Array.isArray(parts) ? parts.filter((p) => isObject(p) && typeof p.text === 'string').map((p) => (p as JsonObject).text as string) : [];
  const content = texts(item.content);
  return (content.length > 0 ? content : texts(item.summary)).join('\n\n');
}

/**
 * Message content: a string, or parts (input_text, output_text, refusal, input_image). Text parts are
 * joined by newlines into one Ollama message. Files cannot be forwarded (Ollama takes text and images).
 */
function translateContent(content: unknown, param: string): Pick<OllamaMessage, 'content' | 'images'> {
  if (content === undefined || content === null) return { content: '' };
  if (typeof content === 'string') return { content };
  if (!Array.isArray(content)) throw wrongType(param, 'a string or an array of content parts');
  const texts: string[] = [];
  const images: string[] = [];
  content.forEach((part: unknown, j) => {
    const partParam = `${param}[${j}]`;
    if (!isObject(part)) throw wrongType(partParam, 'an object');
    switch (part.type) {
      case 'input_text':
      case 'output_text':
      case 'text':
        if (typeof part.text !== 'string') throw wrongType(`${partParam}.text`, 'a string');
        texts.push(part.text);
        return;
      case 'refusal':
        if (typeof part.refusal === 'string') texts.push(part.refusal);
        return;
      case 'input_image':
        images.push(imageData(part, partParam));
        return;
      case 'input_file':
        throw invalid(`${partParam}.type`, 'File inputs are not supported: Ollama takes text and images only.');
      default:
        throw invalid(`${partParam}.type`, `Unsupported content part type for '${partParam}.type': expected input_text, output_text or input_image.`);
    }
  });
  return images.length > 0 ? { content: texts.join('\n'), images } : { content: texts.join('\n') };
}

/** Only inline images can be forwarded: a remote URL would make the gateway fetch for the client, a file id needs stored files. */
function imageData(part: JsonObject, param: string): string {
  if (part.file_id !== undefined && part.file_id !== null) {
    throw invalid(`${param}.file_id`, 'Image file ids are not supported (llmproxy stores no files): send the image inline as a base64 data URL.');
  }
  return imageDataUrl(part.image_url, `${param}.image_url`);
}

interface TranslatedTools {
  tools: OllamaTool[];
  namespaced: Record<string, NamespacedFunction>;
  dropped: string[];
}

/**
 * `function` tools pass through; a `namespace` tool's functions are flattened (flatName) and remembered
 * so the model's calls go back out under their namespace. Every other tool type — hosted tools that
 * OpenAI runs on its side (web_search, file_search, code_interpreter, image_generation, mcp, …) and the
 * freeform ones — is left out of what the model sees: llmproxy never calls a cloud service for a
 * client, and a local model could not call them anyway.
 */
function translateTools(tools: unknown, toolChoice: unknown): TranslatedTools {
  const out: TranslatedTools = { tools: [], namespaced: {}, dropped: [] };
  if (tools === undefined || tools === null) return out;
  if (!Array.isArray(tools)) throw wrongType('tools', 'an array');
  const seen = new Set<string>();
  const add = (tool: OllamaTool, param: string) => {
    if (seen.has(tool.function.name)) {
      throw invalid(param, `Invalid '${param}': more than one function is named '${tool.function.name}'.`);
    }
    seen.add(tool.function.name);
    out.tools.push(tool);
  };

  tools.forEach((tool: unknown, i) => {
    const param = `tools[${i}]`;
    if (!isObject(tool)) throw wrongType(param, 'an object');
    if (tool.type === 'function') {
      add(functionTool(tool, param), param);
    } else if (tool.type === 'namespace') {
      const namespace = tool.name;
      if (typeof namespace !== 'string' || namespace === '') {
        throw invalid(`${param}.name`, `Invalid '${param}.name': expected a non-empty string.`);
      }
      if (!Array.isArray(tool.tools)) throw wrongType(`${param}.tools`, 'an array');
      tool.tools.forEach((member: unknown, j) => {
        const memberParam = `${param}.tools[${j}]`;
        if (!isObject(member)) throw wrongType(memberParam, 'an object');
        if (member.type !== 'function') {
          out.dropped.push(`${namespace}.${String(member.type)}`);
          return;
        }
        const fn = functionTool(member, memberParam);
        const flat = flatName(namespace, fn.function.name);
        out.namespaced[flat] = { namespace, name: fn.function.name };
        add({ ...fn, function: { ...fn.function, name: flat } }, memberParam);
      });
    } else {
      out.dropped.push(typeof tool.type === 'string' ? tool.type : 'unknown');
    }
  });

  const only = allowedToolNames(toolChoice, out.namespaced);
  if (only === 'none') return { ...out, tools: [] };
  if (only) {
    const missing = only.find((name) => !seen.has(name));
    if (missing !== undefined) throw invalid('tool_choice', `Invalid 'tool_choice': no function named '${missing}' in 'tools'.`);
    out.tools = out.tools.filter((tool) => only.includes(tool.function.name));
  }
  return out;
}

function functionTool(tool: JsonObject, param: string): OllamaTool {
  if (typeof tool.name !== 'string' || tool.name === '') {
    throw invalid(`${param}.name`, `Invalid '${param}.name': expected a non-empty string.`);
  }
  const description = optionalString(tool, 'description', `${param}.description`);
  let parameters: Record<string, unknown> = { type: 'object', properties: {} };
  if (tool.parameters !== undefined && tool.parameters !== null) {
    if (!isObject(tool.parameters)) throw wrongType(`${param}.parameters`, 'a JSON Schema object');
    parameters = tool.parameters;
  }
  return {
    type: 'function',
    function: description === undefined ? { name: tool.name, parameters } : { name: tool.name, description, parameters },
  };
}

/**
 * Ollama has no tool_choice. `none` drops the tools; `auto` and `required` keep them all (`required`
 * cannot be enforced); a named function or `allowed_tools` narrow the list to those functions, the
 * strongest hint Ollama allows. A hosted tool choice (`{"type": "web_search"}`) names a tool the
 * model never sees: refused.
 */
function allowedToolNames(toolChoice: unknown, namespaced: Record<string, NamespacedFunction>): string[] | 'none' | undefined {
  if (toolChoice === undefined || toolChoice === null || toolChoice === 'auto' || toolChoice === 'required') return undefined;
  if (toolChoice === 'none') return 'none';
  const nameOf = (choice: unknown): string | undefined => {
    if (!isObject(choice) || choice.type !== 'function' || typeof choice.name !== 'string') return undefined;
    if (typeof choice.namespace === 'string') {
      const flat = Object.entries(namespaced).find(([, fn]) => fn.namespace === choice.namespace && fn.name === choice.name);
      return flat?.[0] ?? flatName(choice.namespace, choice.name);
    }
    return choice.name;
  };
  if (isObject(toolChoice)) {
    const name = nameOf(toolChoice);
    if (name !== undefined) return [name];
    if (toolChoice.type === 'allowed_tools' && Array.isArray(toolChoice.tools)) {
      return toolChoice.tools.map((tool: unknown, i) => {
        const allowed = nameOf(tool);
        if (allowed !== undefined) return allowed;
        const param = `tool_choice.tools[${i}]`;
        throw invalid(param, `Invalid '${param}': only function tools can be allowed (hosted tools are not available here).`);
      });
    }
  }
  throw invalid(
    'tool_choice',
    `Invalid 'tool_choice': expected 'none', 'auto', 'required', {"type": "function", "name": ...} or {"type": "allowed_tools", ...}; hosted tools are not available here.`,
  );
}

function translateText(text: unknown): { format?: OllamaChatRequest['format']; echo: Record<string, unknown> } {
  if (text === undefined || text === null) return { echo: { type: 'text' } };
  if (!isObject(text)) throw wrongType('text', 'an object');
  const format = text.format;
  if (format === undefined || format === null) return { echo: { type: 'text' } };
  if (!isObject(format)) throw wrongType('text.format', 'an object');
  switch (format.type) {
    case 'text':
      return { echo: format };
    case 'json_object':
      return { format: 'json', echo: format };
    case 'json_schema':
      if (!isObject(format.schema)) {
        throw invalid('text.format.schema', "Missing or invalid 'text.format.schema': expected a JSON Schema object.");
      }
      return { format: format.schema, echo: format };
    default:
      throw invalid('text.format.type', "Invalid 'text.format.type': expected 'text', 'json_object' or 'json_schema'.");
  }
}

function readReasoning(reasoning: unknown): { think?: OllamaChatRequest['think']; effort?: string; summary?: string } {
  if (reasoning === undefined || reasoning === null) return {};
  if (!isObject(reasoning)) throw wrongType('reasoning', 'an object');
  const effort = optionalString(reasoning, 'effort', 'reasoning.effort');
  const summary = optionalString(reasoning, 'summary', 'reasoning.summary');
  if (effort === undefined) return { summary };
  if (!Object.hasOwn(THINK_BY_EFFORT, effort)) {
    throw invalid('reasoning.effort', `Invalid value for 'reasoning.effort': expected one of ${Object.keys(THINK_BY_EFFORT).join(', ')}.`);
  }
  return { think: THINK_BY_EFFORT[effort], effort, summary };
}

