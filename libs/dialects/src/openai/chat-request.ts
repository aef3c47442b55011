import type { OllamaChatRequest, OllamaMessage, OllamaOptions, OllamaTool, OllamaToolCall } from '@llmproxy/ollama';
import {
  imageDataUrl,
  invalid,
  isObject,
  parseToolArguments,
  wrongType,
  optionalBoolean,
  optionalInteger,
  optionalNumber,
  optionalString,
  requireBody,
  requireModel,
  type JsonObject,
} from './fields.js';

export interface ChatRequestContext {
  /** The Ollama model the caller resolved the client's `model` to. */
  model: string;
  /** Context window to ask Ollama for (`options.num_ctx`); Ollama's default when absent. */
  numCtx?: number;
  /** Whether the model has Ollama's `thinking` capability; `think` is never sent otherwise (Ollama 400s). */
  thinkingCapable: boolean;
}

export interface TranslatedChatRequest {
  request: OllamaChatRequest;
  stream: boolean;
  /** `stream_options.include_usage`: end the stream with a `choices: []` chunk carrying the usage. */
  includeUsage: boolean;
  /** The model name the client sent, echoed in every response. */
  requestedModel: string;
}

const ROLES: Record<string, OllamaMessage['role']> = {
  system: 'system',
  developer: 'system',
  user: 'user',
  assistant: 'assistant',
  tool: 'tool',
};

/**
 * OpenAI `reasoning_effort` to Ollama `think`. `none` and `minimal` turn thinking off (Ollama's own
 * layer maps `minimal` to `low`; a model that only thinks on/off can't do "minimal", and off is the
 * nearer promise); above `high` is clamped to `high`, the highest level Ollama's API types name.
 */
const THINK_BY_EFFORT: Record<string, OllamaChatRequest['think']> = {
  none: false,
  minimal: false,
  low: 'low',
  medium: 'medium',
  high: 'high',
  xhigh: 'high',
};

/**
 * Translates an OpenAI chat completions body into an Ollama /api/chat request. Validates only the
 * fields it reads; anything else in the body is ignored. Throws DialectError (400, with `param`)
 * for what the client got wrong.
 */
export function translateChatRequest(body: unknown, ctx: ChatRequestContext): TranslatedChatRequest {
  const input = requireBody(body);
  const requestedModel = requireModel(input);

  const n = optionalInteger(input, 'n', 'n', 1);
  if (n !== undefined && n > 1) throw invalid('n', 'Only n=1 is supported: Ollama produces one choice per request.');

  const request: OllamaChatRequest = { model: ctx.model, messages: translateMessages(input.messages) };

  const tools = translateTools(input.tools, input.tool_choice);
  if (tools) request.tools = tools;

  const options = translateOptions(input, ctx);
  if (Object.keys(options).length > 0) request.options = options;

  const format = translateResponseFormat(input.response_format);
  if (format !== undefined) request.format = format;

  const think = translateReasoningEffort(input);
  if (think !== undefined && ctx.thinkingCapable) request.think = think;

  const stream = optionalBoolean(input, 'stream') ?? false;
  request.stream = stream;

  let includeUsage = false;
  if (input.stream_options !== undefined && input.stream_options !== null) {
    if (!isObject(input.stream_options)) {
      throw wrongType('stream_options', 'an object');
    }
    includeUsage = optionalBoolean(input.stream_options, 'include_usage', 'stream_options.include_usage') ?? false;
  }

  return { request, stream, includeUsage, requestedModel };
}

function translateMessages(messages: unknown): OllamaMessage[] {
  if (!Array.isArray(messages)) {
    if (messages === undefined) throw invalid('messages', "Missing required parameter: 'messages'.");
    throw wrongType('messages', 'an array');
  }
  if (messages.length === 0) {
    throw invalid('messages', "Invalid 'messages': empty array. Expected at least one message.");
  }

  const out: OllamaMessage[] = [];
  const toolNames = new Map<string, string>();
  messages.forEach((message: unknown, i) => {
    const param = `messages[${i}]`;
    if (!isObject(message)) throw wrongType(param, 'an object');
    const known = typeof message.role === 'string' && Object.hasOwn(ROLES, message.role);
    const role = known ? ROLES[message.role as string] : undefined;
    if (!role) {
      throw invalid(
        `${param}.role`,
        `Invalid value for '${param}.role': expected one of system, developer, user, assistant, tool.`,
      );
    }

    const translated: OllamaMessage = { role, ...translateContent(message.content, `${param}.content`) };

    if (role === 'assistant') {
      const reasoning = message.reasoning ?? message.reasoning_content;
      if (typeof reasoning === 'string' && reasoning !== '') translated.thinking = reasoning;
      const toolCalls = translateToolCalls(message.tool_calls, `${param}.tool_calls`);
      if (toolCalls) {
        translated.tool_calls = toolCalls;
        for (const call of toolCalls) if (call.id) toolNames.set(call.id, call.function.name);
      }
    }

    if (role === 'tool') {
      const toolCallId = optionalString(message, 'tool_call_id', `${param}.tool_call_id`);
      // A later call reusing an id wins, as in Ollama's own layer; the legacy `name` field wins over both.
      const toolName = optionalString(message, 'name', `${param}.name`) ?? (toolCallId && toolNames.get(toolCallId));
      if (toolName) translated.tool_name = toolName;
      if (toolCallId) translated.tool_call_id = toolCallId;
    }

    out.push(translated);
  });
  return out;
}

/**
 * Text parts are joined by newlines into one message (Ollama's layer emits one message per part,
 * which the chat template then renders as separate turns). Part types Ollama cannot take
 * (audio, files, refusals) are skipped.
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
    if (part.type === 'text') {
      if (typeof part.text !== 'string') throw wrongType(`${partParam}.text`, 'a string');
      texts.push(part.text);
    } else if (part.type === 'image_url') {
      images.push(imageFromUrl(part.image_url, `${partParam}.image_url`));
    }
  });

  return images.length > 0 ? { content: texts.join('\n'), images } : { content: texts.join('\n') };
}

/** `image_url` is `{url, detail?}` (also a bare string, as Ollama accepts); only base64 data URLs can be forwarded. */
function imageFromUrl(imageUrl: unknown, param: string): string {
  return imageDataUrl(isObject(imageUrl) ? imageUrl.url : imageUrl, isObject(imageUrl) ? `${param}.url` : param);
}

function translateToolCalls(toolCalls: unknown, param: string): OllamaToolCall[] | undefined {
  if (toolCalls === undefined || toolCalls === null) return undefined;
  if (!Array.isArray(toolCalls)) throw wrongType(param, 'an array');
  if (toolCalls.length === 0) return undefined;
  return toolCalls.map((call: unknown, k) => {
    const callParam = `${param}[${k}]`;
    if (!isObject(call)) throw wrongType(callParam, 'an object');
    if (!isObject(call.function)) throw invalid(`${callParam}.function`, `Missing or invalid '${callParam}.function'.`);
    const name = call.function.name;
    if (typeof name !== 'string' || name === '') {
      throw invalid(`${callParam}.function.name`, `Invalid '${callParam}.function.name': expected a non-empty string.`);
    }
    const translated: OllamaToolCall = {
      function: { name, arguments: parseToolArguments(call.function.arguments, `${callParam}.function.arguments`) },
    };
    const id = optionalString(call, 'id', `${callParam}.id`);
    return id ? { id, ...translated } : translated;
  });
}

/**
 * Ollama has no tool_choice. `none` drops the tools, so the model cannot call one; `auto` is what
 * Ollama does anyway. `required` and a named function cannot be enforced: the tools are kept (for a
 * named function, only that one, which is the strongest hint Ollama allows) and the model may still
 * answer in text. `allowed_tools` narrows the list the same way.
 */
function translateTools(tools: unknown, toolChoice: unknown): OllamaTool[] | undefined {
  if (tools === undefined || tools === null) return undefined;
  if (!Array.isArray(tools)) throw wrongType('tools', 'an array');

  let translated = tools.map((tool: unknown, i): OllamaTool => {
    const param = `tools[${i}]`;
    if (!isObject(tool)) throw wrongType(param, 'an object');
    if (tool.type !== 'function') {
      throw invalid(`${param}.type`, `Unsupported tool type for '${param}.type': only 'function' tools are supported.`);
    }
    const fn = tool.function;
    if (!isObject(fn)) throw invalid(`${param}.function`, `Missing or invalid '${param}.function'.`);
    if (typeof fn.name !== 'string' || fn.name === '') {
      throw invalid(`${param}.function.name`, `Invalid '${param}.function.name': expected a non-empty string.`);
    }
    const description = optionalString(fn, 'description', `${param}.function.description`);
    let parameters: Record<string, unknown> = { type: 'object', properties: {} };
    if (fn.parameters !== undefined && fn.parameters !== null) {
      if (!isObject(fn.parameters)) {
        throw wrongType(`${param}.function.parameters`, 'a JSON Schema object');
      }
      parameters = fn.parameters;
    }
    return {
      type: 'function',
      function: description === undefined ? { name: fn.name, parameters } : { name: fn.name, description, parameters },
    };
  });

  const only = allowedToolNames(toolChoice);
  if (only === 'none') return undefined;
  if (only) {
    const known = new Set(translated.map((tool) => tool.function.name));
    const missing = only.find((name) => !known.has(name));
    if (missing !== undefined) {
      throw invalid('tool_choice', `Invalid 'tool_choice': no function named '${missing}' in 'tools'.`);
    }
    translated = translated.filter((tool) => only.includes(tool.function.name));
  }
  return translated.length > 0 ? translated : undefined;
}

function functionName(tool: unknown): string | undefined {
  return isObject(tool) && isObject(tool.function) && typeof tool.function.name === 'string'
    ? tool.function.name
    : undefined;
}

/** `undefined`: keep all tools; `'none'`: drop them; a list: keep only those names. */
function allowedToolNames(toolChoice: unknown): string[] | 'none' | undefined {
  if (toolChoice === undefined || toolChoice === null || toolChoice === 'auto' || toolChoice === 'required') {
    return undefined;
  }
  if (toolChoice === 'none') return 'none';
  if (isObject(toolChoice)) {
    if (toolChoice.type === 'function') {
      const name = functionName(toolChoice);
      if (name !== undefined) return [name];
    }
    const allowed = toolChoice.allowed_tools;
    if (toolChoice.type === 'allowed_tools' && isObject(allowed) && Array.isArray(allowed.tools)) {
      return allowed.tools.map((tool: unknown, i) => {
        const name = functionName(tool);
        if (name !== undefined) return name;
        const param = `tool_choice.allowed_tools.tools[${i}]`;
        throw invalid(param, `Invalid '${param}': expected a function tool with a name.`);
      });
    }
  }
  throw invalid(
    'tool_choice',
    `Invalid 'tool_choice': expected 'none', 'auto', 'required' or {"type": "function", "function": {"name": ...}}.`,
  );
}

/**
 * Sampling options. Unlike Ollama's /v1 layer, absent temperature/top_p are not forced to OpenAI's
 * 1.0: local models ship tuned defaults in their Modelfile, and those serve the client better.
 */
function translateOptions(body: JsonObject, ctx: ChatRequestContext): OllamaOptions {
  const options: OllamaOptions = {};
  const temperature = optionalNumber(body, 'temperature');
  if (temperature !== undefined) options.temperature = temperature;
  const topP = optionalNumber(body, 'top_p');
  if (topP !== undefined) options.top_p = topP;
  const seed = optionalInteger(body, 'seed', 'seed', Number.MIN_SAFE_INTEGER);
  if (seed !== undefined) options.seed = seed;
  // Ollama's options carry OpenAI's penalty names unchanged.
  for (const penalty of ['frequency_penalty', 'presence_penalty'] as const) {
    const value = optionalNumber(body, penalty);
    if (value !== undefined) options[penalty] = value;
  }

  const stop = translateStop(body.stop);
  if (stop) options.stop = stop;

  const maxCompletion = optionalInteger(body, 'max_completion_tokens', 'max_completion_tokens', 1);
  const maxTokens = optionalInteger(body, 'max_tokens', 'max_tokens', 1);
  const numPredict = maxCompletion ?? maxTokens;
  if (numPredict !== undefined) options.num_predict = numPredict;

  if (ctx.numCtx !== undefined) options.num_ctx = ctx.numCtx;
  return options;
}

function translateStop(stop: unknown): string[] | undefined {
  if (stop === undefined || stop === null) return undefined;
  if (typeof stop === 'string') return stop === '' ? undefined : [stop];
  if (Array.isArray(stop) && stop.every((s): s is string => typeof s === 'string')) {
    const stops = stop.filter((s) => s !== '');
    return stops.length > 0 ? stops : undefined;
  }
  throw wrongType('stop', 'a string or an array of strings');
}

function translateResponseFormat(format: unknown): OllamaChatRequest['format'] {
  if (format === undefined || format === null) return undefined;
  if (!isObject(format)) throw wrongType('response_format', 'an object');
  switch (format.type) {
    case 'text':
      return undefined;
    case 'json_object':
      return 'json';
    case 'json_schema': {
      const schema = isObject(format.json_schema) ? format.json_schema.schema : undefined;
      if (!isObject(schema)) {
        const param = 'response_format.json_schema.schema';
        throw invalid(param, `Missing or invalid '${param}': expected a JSON Schema object.`);
      }
      return schema;
    }
    default:
      const expected = "'text', 'json_object' or 'json_schema'";
      throw invalid('response_format.type', `Invalid 'response_format.type': expected ${expected}.`);
  }
}

/** `reasoning_effort`, or the `reasoning: {effort}` object Ollama's own layer also reads. */
function translateReasoningEffort(body: JsonObject): OllamaChatRequest['think'] | undefined {
  let effort = optionalString(body, 'reasoning_effort');
  let param = 'reasoning_effort';
  if (effort === undefined && isObject(body.reasoning)) {
    effort = optionalString(body.reasoning, 'effort', 'reasoning.effort');
    param = 'reasoning.effort';
  }
  if (effort === undefined) return undefined;
  if (!Object.hasOwn(THINK_BY_EFFORT, effort)) {
    throw invalid(param, `Invalid value for '${param}': expected one of ${Object.keys(THINK_BY_EFFORT).join(', ')}.`);
  }
  return THINK_BY_EFFORT[effort];
}
