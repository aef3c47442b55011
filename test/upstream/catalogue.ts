/**
 * Model catalogue of the fake Ollama: what /api/tags, /api/show and /api/ps describe, and how a
 * requested model name is matched against it (the way Ollama normalises names: case-insensitive,
 * an implicit `:latest` tag, an optional `registry.ollama.ai/library/` prefix).
 *
 * Shapes follow ollama/ollama `api/types.go` (ListModelResponse, ShowResponse,
 * ProcessModelResponse, ModelDetails) and `docs/api.md`.
 */
import { createHash } from 'node:crypto';

export type Capability = 'completion' | 'tools' | 'thinking' | 'embedding' | 'vision' | 'insert';

export interface FakeModel {
  /** Full name with tag, e.g. `llama3.2:latest`. A name without a tag gets `:latest`. */
  name: string;
  capabilities: Capability[];
  /** Optional overrides; sensible defaults are derived from the name. */
  family?: string;
  parameterSize?: string;
  quantizationLevel?: string;
  size?: number;
  digest?: string;
  contextLength?: number;
  embeddingLength?: number;
  /** RFC 3339 timestamp reported as `modified_at`. */
  modifiedAt?: string;
}

export const DEFAULT_MODELS: readonly FakeModel[] = [
  { name: 'llama3.2:latest', capabilities: ['completion', 'tools'] },
  { name: 'qwen3:4b', capabilities: ['completion', 'tools', 'thinking'] },
  { name: 'nomic-embed-text:latest', capabilities: ['embedding'] },
];

interface KnownDefaults {
  family: string;
  parameterSize: string;
  quantizationLevel: string;
  size: number;
  contextLength: number;
  embeddingLength: number;
}

const KNOWN: Record<string, KnownDefaults> = {
  'llama3.2': {
    family: 'llama',
    parameterSize: '3.2B',
    quantizationLevel: 'Q4_K_M',
    size: 2019393189,
    contextLength: 131072,
    embeddingLength: 3072,
  },
  qwen3: {
    family: 'qwen3',
    parameterSize: '4.0B',
    quantizationLevel: 'Q4_K_M',
    size: 2497293931,
    contextLength: 40960,
    embeddingLength: 2560,
  },
  'nomic-embed-text': {
    family: 'nomic-bert',
    parameterSize: '137M',
    quantizationLevel: 'F16',
    size: 274302450,
    contextLength: 2048,
    embeddingLength: 768,
  },
};

const REGISTRY_PREFIX = 'registry.ollama.ai/library/';

/** Normalises a model name the way Ollama resolves it: trimmed, lower-case, `:latest` implied. */
export function normalizeModelName(raw: string): string {
  let name = raw.trim().toLowerCase();
  if (name.startsWith(REGISTRY_PREFIX)) name = name.slice(REGISTRY_PREFIX.length);
  const lastSegment = name.slice(name.lastIndexOf('/') + 1);
  if (!lastSegment.includes(':')) name += ':latest';
  return name;
}

/** `registry.ollama.ai/library/llama3.2:latest`, as Ollama prints it in capability errors. */
export function fullyQualifiedName(model: ResolvedModel): string {
  return model.name.includes('/') ? model.name : REGISTRY_PREFIX + model.name;
}

export interface ResolvedModel {
  name: string;
  capabilities: Capability[];
  family: string;
  parameterSize: string;
  quantizationLevel: string;
  size: number;
  digest: string;
  contextLength: number;
  embeddingLength: number;
  modifiedAt: string;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function resolveModel(model: FakeModel): ResolvedModel {
  const name = normalizeModelName(model.name);
  const base = name.slice(0, name.lastIndexOf(':'));
  const known = KNOWN[base];
  const digest = model.digest ?? sha256(name);
  const tag = name.slice(name.lastIndexOf(':') + 1);
  const tagSize = /^\d+(\.\d+)?[bm]$/i.test(tag) ? tag.toUpperCase() : undefined;
  return {
    name,
    capabilities: [...model.capabilities],
    family: model.family ?? known?.family ?? (base.replace(/[\d.]+$/, '') || 'llama'),
    parameterSize: model.parameterSize ?? known?.parameterSize ?? tagSize ?? '7.2B',
    quantizationLevel: model.quantizationLevel ?? known?.quantizationLevel ?? 'Q4_K_M',
    size: model.size ?? known?.size ?? 1_000_000_000 + (parseInt(digest.slice(0, 8), 16) % 3_000_000_000),
    digest,
    contextLength: model.contextLength ?? known?.contextLength ?? 32768,
    embeddingLength: model.embeddingLength ?? known?.embeddingLength ?? 4096,
    modifiedAt: model.modifiedAt ?? '2025-09-14T08:21:37.482913587Z',
  };
}

function details(m: ResolvedModel) {
  return {
    parent_model: '',
    format: 'gguf',
    family: m.family,
    families: [m.family],
    parameter_size: m.parameterSize,
    quantization_level: m.quantizationLevel,
  };
}

/** One entry of `GET /api/tags`. */
export function tagsEntry(m: ResolvedModel) {
  return {
    name: m.name,
    model: m.name,
    modified_at: m.modifiedAt,
    size: m.size,
    digest: m.digest,
    details: details(m),
  };
}

/** One entry of `GET /api/ps`. */
export function psEntry(m: ResolvedModel, expiresAt: string) {
  return {
    name: m.name,
    model: m.name,
    size: m.size,
    digest: m.digest,
    details: details(m),
    expires_at: expiresAt,
    size_vram: m.size,
    context_length: Math.min(4096, m.contextLength),
  };
}

/** Body of `POST /api/show` (field order as Go marshals ShowResponse). */
export function showResponse(m: ResolvedModel) {
  const arch = m.family.replace(/-/g, '');
  const template = m.capabilities.includes('embedding')
    ? '{{ .Prompt }}'
    : '{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}' +
      '{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>{{ end }}' +
      '<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>';
  const parameters = m.capabilities.includes('embedding')
    ? 'num_ctx                        ' + String(m.contextLength)
    : 'stop                           "<|start_header_id|>"\nstop                           "<|end_header_id|>"\nstop                           "<|eot_id|>"';
  const modelfile =
    '# Modelfile generated by "ollama show"\n' +
    '# To build a new Modelfile based on this, replace FROM with:\n' +
    `# FROM ${m.name}\n\n` +
    `FROM /root/.ollama/models/blobs/sha256-${m.digest}\n` +
    `TEMPLATE """${template}"""\n` +
    parameters
      .split('\n')
      .map((line) => 'PARAMETER ' + line.replace(/\s+/, ' '))
      .join('\n') +
    '\n';
  return {
    modelfile,
    parameters,
    template,
    details: details(m),
    model_info: {
      'general.architecture': arch,
      'general.file_type': 15,
      'general.parameter_count': parameterCount(m.parameterSize),
      'general.quantization_version': 2,
      [`${arch}.attention.head_count`]: 24,
      [`${arch}.attention.head_count_kv`]: 8,
      [`${arch}.block_count`]: 28,
      [`${arch}.context_length`]: m.contextLength,
      [`${arch}.embedding_length`]: m.embeddingLength,
      'tokenizer.ggml.bos_token_id': 128000,
      'tokenizer.ggml.eos_token_id': 128009,
      'tokenizer.ggml.merges': null,
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.token_type': null,
      'tokenizer.ggml.tokens': null,
    },
    capabilities: m.capabilities,
    modified_at: m.modifiedAt,
  };
}

function parameterCount(size: string): number {
  const match = /^(\d+(?:\.\d+)?)([BM])$/i.exec(size);
  if (!match) return 7_000_000_000;
  const unit = match[2]!.toUpperCase() === 'B' ? 1e9 : 1e6;
  return Math.round(Number(match[1]) * unit);
}
