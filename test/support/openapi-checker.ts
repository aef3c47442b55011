import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { OPENAPI_JSON_PATH } from '../../apps/gateway/src/admin/openapi/openapi.js';

// ajv-formats is CommonJS: its default export arrives as the module object under Jest's ESM.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;

export type Json = Record<string, unknown>;
export interface Operation {
  operationId?: string;
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema: Json }> };
  responses: Record<string, { content?: Record<string, { schema?: Json }>; headers?: Record<string, Json> }>;
  security?: Record<string, string[]>[];
}
export interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation> & { servers?: { url: string }[] }>;
  components: { schemas: Record<string, Json>; securitySchemes: Record<string, Json> };
}

/**
 * Each object schema with `properties` and no word on others gets `additionalProperties: false`
 * (a copy): an answer with a field the document does not name fails, so answers and document
 * cannot drift apart unnoticed.
 */
function closed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(closed);
  if (typeof value !== 'object' || value === null) return value;
  const copy = Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, closed(inner)])) as Json;
  const isObject = copy.type === 'object' || (Array.isArray(copy.type) && copy.type.includes('object'));
  if (isObject && typeof copy.properties === 'object' && copy.additionalProperties === undefined) {
    copy.additionalProperties = false;
  }
  return copy;
}

const pointer = (...parts: string[]) => parts.map((part) => part.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/** Checks real answers against the admin listener's OpenAPI document (test/openapi.e2e-spec.ts, test/oidc.e2e-spec.ts). */
export class OpenApiChecker {
  private readonly ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));

  constructor(readonly document: Document) {
    // The paths' schemas point into components: the whole (closed) document is one schema resource.
    this.ajv.addSchema({ $id: 'https://llmproxy.invalid/openapi.json', ...(closed(document) as Json) });
  }

  /** Fetches the document from an admin listener. */
  static async load(adminUrl: string): Promise<OpenApiChecker> {
    const response = await fetch(`${adminUrl}${OPENAPI_JSON_PATH}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    return new OpenApiChecker((await response.json()) as Document);
  }

  operation(method: string, path: string): Operation {
    const found = this.document.paths[path]?.[method.toLowerCase()] as Operation | undefined;
    if (!found) throw new Error(`the document has no ${method} ${path}`);
    return found;
  }

  /**
   * The answer's status is documented for the operation and its JSON body matches the documented
   * schema. Returns the body (the text of another media type, the Location of a redirect).
   */
  async conforms(method: string, path: string, response: Response): Promise<unknown> {
    const documented = this.operation(method, path).responses[String(response.status)];
    if (!documented) throw new Error(`${method} ${path} answered ${response.status}, which the document does not list`);
    if (response.status === 204) {
      expect(documented.content).toBeUndefined();
      return undefined;
    }
    // A redirect (the browser's single sign-on hops): what matters is where it goes, which the
    // document names as the Location header; its body is Express's "Redirecting to …", not API.
    if (response.status >= 300 && response.status < 400) {
      expect(Object.keys(documented.headers ?? {})).toContain('Location');
      const location = response.headers.get('location');
      expect(location).toBeTruthy();
      return location;
    }
    const type = response.headers.get('content-type')!.split(';')[0]!;
    expect(Object.keys(documented.content ?? {})).toContain(type);
    if (type !== 'application/json') return response.text();
    const body: unknown = await response.json();
    const ref = `https://llmproxy.invalid/openapi.json#/${pointer('paths', path, method.toLowerCase(), 'responses', String(response.status), 'content', type, 'schema')}`;
    const validate = this.ajv.getSchema(ref) ?? this.ajv.compile({ $ref: ref });
    if (!validate(body)) throw new Error(`${method} ${path} ${response.status}: the body does not match its schema: ${this.ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`);
    return body;
  }
}
