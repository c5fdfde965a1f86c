/**
 * Renders an OpenAPI 3.1 document (the agent's `/openapi.json`) as a Markdown page for the docs
 * site: one section per route with its parameters, body and answers. Text is escaped for Markdown
 * tables and for VitePress, which reads pages as Vue templates.
 */

interface Schema {
  type?: string | string[]
  enum?: unknown[]
  const?: unknown
  items?: Schema
  properties?: Record<string, Schema>
  required?: string[]
  oneOf?: Schema[]
  anyOf?: Schema[]
  default?: unknown
  minimum?: number
  maximum?: number
  minLength?: number
  maxLength?: number
  maxItems?: number
  pattern?: string
  description?: string
  $ref?: string
}
interface Operation {
  summary?: string
  description?: string
  parameters?: { name: string; in: string; required?: boolean; schema?: Schema; description?: string }[]
  requestBody?: { content?: Record<string, { schema?: Schema }> }
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>
  hide?: boolean
}
export interface OpenApiDocument {
  info: { title: string; version: string }
  paths: Record<string, Record<string, Operation>>
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete']

/** Text safe in a Markdown table cell and in a Vue template. */
export function escapeText(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|')
    .replace(/\{\{/g, '&#123;&#123;')
    .replace(/\}\}/g, '&#125;&#125;')
    .replace(/\n/g, ' ')
}

/** `/tasks/{id}` as the rest of the docs write it: `/tasks/:id`. */
const routePath = (p: string) => p.replace(/\{([^}]+)\}/g, ':$1')

export function typeOf(s: Schema | undefined): string {
  if (!s) return 'any'
  if (s.$ref) return s.$ref.split('/').pop() ?? 'object'
  if (s.const !== undefined) return JSON.stringify(s.const)
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ')
  const variants = s.oneOf ?? s.anyOf
  if (variants) return variants.map(typeOf).join(' or ')
  if (s.type === 'array') return `array of ${typeOf(s.items)}`
  if (Array.isArray(s.type)) return s.type.join(' or ')
  return s.type ?? 'any'
}

/** zod's integers carry the safe-integer range as bounds: that is no limit worth printing. */
const bound = (n: number | undefined) =>
  n === undefined || Math.abs(n) >= Number.MAX_SAFE_INTEGER ? undefined : n

function limits(s: Schema): string {
  const out: string[] = []
  const [min, max] = [bound(s.minimum), bound(s.maximum)]
  if (min !== undefined || max !== undefined) out.push(`${min ?? ''}…${max ?? ''}`)
  if (s.minLength !== undefined || s.maxLength !== undefined)
    out.push(`length ${s.minLength ?? 0}…${s.maxLength ?? ''}`)
  if (s.maxItems !== undefined) out.push(`at most ${s.maxItems} items`)
  if (s.default !== undefined) out.push(`default ${JSON.stringify(s.default)}`)
  if (s.description) out.push(s.description)
  return out.join('; ')
}

function propertyTable(s: Schema): string[] {
  const props = Object.entries(s.properties ?? {})
  if (props.length === 0) return [`\`${escapeText(typeOf(s))}\``, '']
  const required = new Set(s.required ?? [])
  return [
    '| field | type | required | notes |',
    '|---|---|---|---|',
    ...props.map(
      ([name, p]) =>
        `| \`${name}\` | ${escapeText(typeOf(p))} | ${required.has(name) ? 'yes' : ''} | ${escapeText(limits(p))} |`,
    ),
    '',
  ]
}

function bodySection(title: string, s: Schema | undefined): string[] {
  if (!s) return []
  const variants = s.oneOf ?? s.anyOf
  if (variants?.every((v) => v.properties)) {
    return variants.flatMap((v, i) => {
      const tag = Object.entries(v.properties ?? {}).find(
        ([, p]) => p.enum?.length === 1 || p.const !== undefined,
      )
      const label = tag
        ? `${tag[0]} = ${JSON.stringify(tag[1].const ?? tag[1].enum![0])}`
        : `variant ${i + 1}`
      return [`**${title}** (${escapeText(label)}):`, '', ...propertyTable(v)]
    })
  }
  return [`**${title}:**`, '', ...propertyTable(s)]
}

function operationSection(method: string, path: string, op: Operation): string[] {
  const lines = [`### ${method.toUpperCase()} \`${routePath(path)}\``, '']
  if (op.summary) lines.push(escapeText(op.summary), '')
  if (op.description && op.description !== op.summary) lines.push(escapeText(op.description), '')
  if (op.parameters?.length) {
    lines.push('| parameter | in | type | required | notes |', '|---|---|---|---|---|')
    for (const p of op.parameters) {
      const notes = [p.description, p.schema && limits(p.schema)].filter(Boolean).join('; ')
      lines.push(
        `| \`${p.name}\` | ${p.in} | ${escapeText(typeOf(p.schema))} | ${p.required ? 'yes' : ''} | ${escapeText(notes)} |`,
      )
    }
    lines.push('')
  }
  lines.push(...bodySection('Body', op.requestBody?.content?.['application/json']?.schema))
  const responses = Object.entries(op.responses ?? {})
  if (responses.length) {
    lines.push('| answer | meaning |', '|---|---|')
    for (const [code, r] of responses) {
      // fastify's placeholder says nothing.
      const text = r.description === 'Default Response' ? '' : (r.description ?? '')
      lines.push(`| ${code} | ${escapeText(text)} |`)
    }
    lines.push('')
  }
  const ok = op.responses?.['200']?.content?.['application/json']?.schema
  if (ok?.properties) lines.push(...bodySection('200 answer', ok))
  return lines
}

/** The whole API page: routes grouped by their first path segment, in document order. */
export function renderOpenApi(doc: OpenApiDocument): string {
  const groups = new Map<string, string[]>()
  for (const [path, ops] of Object.entries(doc.paths)) {
    const group = path.split('/')[1] || '/'
    for (const method of METHODS) {
      const op = ops[method]
      if (!op || op.hide) continue
      if (!groups.has(group)) groups.set(group, [])
      groups.get(group)!.push(...operationSection(method, path, op))
    }
  }
  const out = [
    '# API reference',
    '',
    `The agent's local API (${escapeText(doc.info.title)} ${escapeText(doc.info.version)}), generated from the`,
    'OpenAPI document every agent serves at `/openapi.json`. Every error is `{"error":{"code","message","details"?}}`.',
    'Bound beyond loopback, every route but `/healthz`, `/readyz`, `/metrics` and `/network/coordinators`',
    'needs the bearer token from `<data-dir>/api-token`.',
    '',
  ]
  for (const [group, lines] of groups) out.push(`## /${group}`, '', ...lines)
  return `${out.join('\n').trimEnd()}\n`
}
