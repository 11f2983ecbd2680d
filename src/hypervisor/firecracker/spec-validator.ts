/**
 * Checks API requests against Firecracker's published swagger file (spec/firecracker-api-v1.14.1.yaml),
 * so the contract tests never rely on hand-copied types: path (templates such as /drives/{drive_id}),
 * method, and the body against the operation's schema, compiled with ajv.
 *
 * Two rules go beyond the file's schemas, each because Firecracker enforces it and the file cannot say it:
 *  - objects are closed: every definition with `properties` and no `additionalProperties` gets
 *    `additionalProperties: false` (Firecracker deserialises bodies with serde's deny_unknown_fields);
 *  - a path parameter that also appears in the body must be equal (Firecracker answers 400 otherwise),
 *    and SnapshotLoadParams takes exactly one of mem_backend / mem_file_path (stated in its description).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';
import type { ApiRequest } from './requests.js';

/** The spec file shipped in the repository (spec/ sits at the same depth from src/ and dist/). */
export const DEFAULT_SPEC_PATH = fileURLToPath(new URL('../../../spec/firecracker-api-v1.14.1.yaml', import.meta.url));

const SPEC_ID = 'firecracker';

interface Operation {
  template: string;
  method: string;
  /** Name of the body's definition when it is a $ref (for the extra rules). */
  bodyDefinition?: string;
  bodyRequired: boolean;
  validateBody?: ValidateFunction;
}

interface PathEntry {
  template: string;
  params: string[];
  pattern: RegExp;
  operations: Map<string, Operation>;
}

export interface ValidationResult {
  ok: boolean;
  /** Matched path template, when one matched. */
  template?: string;
  errors: string[];
}

export interface SpecValidator {
  /** The spec's info.version, e.g. "1.14.1". */
  version: string;
  validate(req: ApiRequest): ValidationResult;
  /** Every "METHOD template" the spec defines. */
  operations(): string[];
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Rewrites local refs to the registered spec id and closes open objects (see the module comment). */
function prepareSchema(node: Json): Json {
  if (Array.isArray(node)) return node.map(prepareSchema);
  if (node === null || typeof node !== 'object') return node;
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string' && value.startsWith('#/')) out[key] = `${SPEC_ID}${value}`;
    else if (key === 'properties' && value && typeof value === 'object' && !Array.isArray(value)) {
      // Property names are not schemas; only their values are.
      out[key] = Object.fromEntries(Object.entries(value).map(([name, schema]) => [name, prepareSchema(schema)]));
    } else out[key] = prepareSchema(value);
  }
  if (out.properties !== undefined && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

const EXTRA_RULES: Record<string, (body: Record<string, unknown>) => string[]> = {
  SnapshotLoadParams: (body) => {
    const count = ['mem_backend', 'mem_file_path'].filter((k) => body[k] !== undefined).length;
    return count === 1 ? [] : [`exactly one of mem_backend / mem_file_path must be present (found ${count})`];
  },
};

function describeError(e: ErrorObject): string {
  const at = e.instancePath || '(body)';
  if (e.keyword === 'additionalProperties') return `${at} has unknown property "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  if (e.keyword === 'enum') return `${at} ${e.message}: ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`;
  return `${at} ${e.message}`;
}

export function loadSpecValidator(specPath: string = DEFAULT_SPEC_PATH): SpecValidator {
  const doc = parseYaml(readFileSync(specPath, 'utf8')) as {
    info: { version: string };
    basePath?: string;
    paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string; required?: boolean; schema?: Json }> }>>;
    definitions: Record<string, Json>;
  };
  // Swagger 2 schemas are draft-4-like; `example` is the one keyword ajv does not know. Formats such as
  // int64 are descriptive here (and one is a regex), so they are not enforced.
  const ajv = new Ajv({ allErrors: true, strict: true, validateFormats: false });
  ajv.addKeyword('example');
  ajv.addSchema({ $id: SPEC_ID, definitions: prepareSchema(doc.definitions as Json) } as object);

  const paths: PathEntry[] = [];
  for (const [template, methods] of Object.entries(doc.paths)) {
    const params = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    const source = template
      .split(/\{[^}]+\}/)
      .map((literal) => literal.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
      .join('([^/]+)');
    const entry: PathEntry = { template, params, pattern: new RegExp(`^${source}$`), operations: new Map() };
    for (const [method, op] of Object.entries(methods)) {
      const bodyParam = op.parameters?.find((p) => p.in === 'body');
      const operation: Operation = { template, method: method.toUpperCase(), bodyRequired: bodyParam?.required === true };
      if (bodyParam?.schema) {
        const schema = prepareSchema(bodyParam.schema) as { $ref?: string };
        operation.bodyDefinition = schema.$ref?.split('/').pop();
        operation.validateBody = ajv.compile(schema as object);
      }
      entry.operations.set(operation.method, operation);
    }
    paths.push(entry);
  }
  // Literal paths win over templates when both could match.
  paths.sort((a, b) => a.params.length - b.params.length);

  function validate(req: ApiRequest): ValidationResult {
    const path = req.path.split('?')[0];
    let match: { entry: PathEntry; values: string[] } | undefined;
    for (const entry of paths) {
      const m = entry.pattern.exec(path);
      if (m) {
        match = { entry, values: m.slice(1).map(decodeURIComponent) };
        break;
      }
    }
    if (!match) return { ok: false, errors: [`unknown path ${path}`] };
    const { entry, values } = match;
    const op = entry.operations.get(req.method.toUpperCase());
    if (!op) {
      return { ok: false, template: entry.template, errors: [`method ${req.method} is not defined for ${entry.template} (defined: ${[...entry.operations.keys()].join(', ')})`] };
    }
    const errors: string[] = [];
    if (!op.validateBody) {
      if (req.body !== undefined) errors.push(`${op.method} ${entry.template} takes no body`);
    } else if (req.body === undefined) {
      if (op.bodyRequired) errors.push(`${op.method} ${entry.template} requires a body`);
    } else {
      if (!op.validateBody(req.body)) errors.push(...(op.validateBody.errors ?? []).map(describeError));
      entry.params.forEach((name, i) => {
        const inBody = req.body?.[name];
        if (inBody !== undefined && inBody !== values[i]) errors.push(`path ${name} "${values[i]}" differs from body ${name} ${JSON.stringify(inBody)}`);
      });
      const extra = op.bodyDefinition ? EXTRA_RULES[op.bodyDefinition] : undefined;
      if (extra) errors.push(...extra(req.body));
    }
    return { ok: errors.length === 0, template: entry.template, errors };
  }

  return {
    version: doc.info.version,
    validate,
    operations: () => paths.flatMap((p) => [...p.operations.keys()].map((m) => `${m} ${p.template}`)),
  };
}
