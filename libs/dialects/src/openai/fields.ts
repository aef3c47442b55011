import { DialectError } from '../dialect-error.js';

/** Small readers for untrusted JSON: each either returns the typed value or throws a 400 naming `param`. */

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function invalid(param: string, message: string): DialectError {
  return new DialectError(400, message, param);
}

/** A 400 for a field of the wrong type, worded like OpenAI's own ("Invalid type for 'x': expected ..."). */
export function wrongType(param: string, expected: string): DialectError {
  return invalid(param, `Invalid type for '${param}': expected ${expected}.`);
}

/** `undefined` and `null` both mean "not sent": the openai SDK serialises unset optionals as null. */
export function optionalNumber(body: JsonObject, key: string, param = key): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw wrongType(param, 'a number');
  }
  return value;
}

export function optionalInteger(body: JsonObject, key: string, param = key, min = 0): number | undefined {
  const value = optionalNumber(body, key, param);
  if (value === undefined) return undefined;
  // Safe integers only: 1e308 or 2**63 would reach Ollama as a number its Go int cannot hold.
  if (!Number.isSafeInteger(value) || value < min) {
    throw invalid(param, `Invalid value for '${param}': expected an integer >= ${min} (at most ${Number.MAX_SAFE_INTEGER}).`);
  }
  return value;
}

export function optionalBoolean(body: JsonObject, key: string, param = key): boolean | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw wrongType(param, 'a boolean');
  return value;
}

export function optionalString(body: JsonObject, key: string, param = key): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw wrongType(param, 'a string');
  return value;
}

export function requireBody(body: unknown): JsonObject {
  if (!isObject(body)) throw new DialectError(400, 'The request body must be a JSON object.');
  return body;
}

export function requireModel(body: JsonObject): string {
  const model = body.model;
  if (model === undefined || model === null || model === '') {
    throw invalid('model', 'You must provide a model parameter.');
  }
  if (typeof model !== 'string') throw wrongType('model', 'a string');
  return model;
}

/** Tool-call arguments arrive as a JSON string; Ollama wants the object. An empty string means "no arguments". */
export function parseToolArguments(raw: unknown, param: string): Record<string, unknown> {
  if (raw === undefined || raw === null || raw === '') return {};
  if (isObject(raw)) return raw;
  if (typeof raw !== 'string') throw wrongType(param, 'a JSON string');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalid(param, `Invalid '${param}': not valid JSON.`);
  }
  if (parsed === null) return {};
  if (!isObject(parsed)) throw invalid(param, `Invalid '${param}': expected a JSON object.`);
  return parsed;
}

const DATA_URL = /^data:([^,;]*)((?:;[^,;]*)*);base64,/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The base64 of an image sent as a data URL (what Ollama's `images` take). A remote URL is refused:
 * the gateway would have to fetch it for the client.
 */
export function imageDataUrl(url: unknown, param: string): string {
  if (typeof url !== 'string') throw wrongType(param, 'a string');
  if (/^https?:\/\//i.test(url)) {
    throw invalid(param, 'Remote image URLs are not supported: send the image inline as a base64 data URL (data:image/png;base64,...).');
  }
  const prefix = DATA_URL.exec(url);
  if (!prefix) throw invalid(param, 'Invalid image URL: expected a base64 data URL (data:image/png;base64,...).');
  const data = url.slice(prefix[0].length);
  if (data === '' || !BASE64.test(data)) throw invalid(param, 'Invalid image URL: the data URL does not hold valid base64.');
  return data;
}
