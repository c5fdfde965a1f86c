import type { JsonSchema } from './types.ts'

const DROPPED = new Set(['$schema', '$id', 'title', 'examples', 'default', 'allOf', 'not', 'strict'])

/**
 * A client's JSON schema in the dialect llama.cpp's grammar converter reads: `anyOf` becomes
 * `oneOf`, a list of types becomes a `oneOf` of them, and annotations it can't use are dropped.
 * Tool parameter schemas from IDEs carry all of these.
 */
export function grammarSchema(schema: unknown): JsonSchema {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return {}
  const out: JsonSchema = {}
  for (const [key, value] of Object.entries(schema)) {
    if (DROPPED.has(key)) continue
    if (key === 'anyOf' || key === 'oneOf') out.oneOf = (value as unknown[]).map(grammarSchema)
    else if (key === 'properties' || key === '$defs' || key === 'definitions')
      out[key === 'definitions' ? '$defs' : key] = Object.fromEntries(
        Object.entries(value as object).map(([k, v]) => [k, grammarSchema(v)]),
      )
    else if (key === 'items' || (key === 'additionalProperties' && typeof value === 'object'))
      out[key] = grammarSchema(value)
    else if (key === 'prefixItems') out[key] = (value as unknown[]).map(grammarSchema)
    else if (key === '$ref' && typeof value === 'string')
      out.$ref = value.replace('#/definitions/', '#/$defs/')
    else out[key] = value
  }
  if (Array.isArray(out.type)) {
    const { type, ...rest } = out
    return { oneOf: (type as unknown[]).map((t) => ({ ...rest, type: t })) }
  }
  return out
}
