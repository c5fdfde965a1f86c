import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { ModelInfo } from '../../inference/index.ts'
import type { ChatBackend } from './chat-backend.ts'
import { documentedBody } from './ide-body.ts'
import { resolveModelName, withTag } from './model-names.ts'
import { ollamaError } from './ollama-answer.ts'

const ShowBody = z.object({ model: z.string().optional(), name: z.string().optional() })

/** The Ollama release whose API this node speaks (tools check for a minimum version). */
export const OLLAMA_COMPATIBLE_VERSION = '0.12.0'

/** Pull, remove and copy on this node's model manager (absent on nodes that route only). */
export interface ModelAdmin {
  register(app: FastifyInstance, backend: ChatBackend): void
}

/** A stable stand-in for Ollama's manifest digest: changes when the file does. */
function digestOf(m: ModelInfo): string {
  return createHash('sha256').update(`${m.name}:${m.sizeBytes}`).digest('hex')
}

function details(m: ModelInfo) {
  return {
    parent_model: '',
    format: 'gguf',
    family: m.family ?? '',
    families: m.family ? [m.family] : [],
    parameter_size: m.parameters ?? '',
    quantization_level: m.quantization ?? '',
  }
}

/** What a request for this model can hold here: the served context, not the trained one. */
export function servedContext(m: ModelInfo): number | null {
  return m.servedContext ?? m.contextLength
}

// How this node renders a conversation for any model, in Ollama's template language.
const TEMPLATE = `{{- if .System }}{{ .System }}
{{ end }}{{- if .Tools }}You have these tools: {{ .Tools }}
{{ end }}{{- range .Messages }}{{ .Role }}: {{ .Content }}
{{ end }}assistant: `

/** `GET /`, version, tags, show and ps, as Ollama answers them. */
export function ollamaModelRoutes(app: FastifyInstance, backend: ChatBackend, admin?: ModelAdmin): void {
  const find = async (name: string) => {
    const models = await backend.listModels().catch(() => [])
    const resolved = resolveModelName(
      name,
      models.map((m) => m.name),
    )
    return models.find((m) => m.name === resolved)
  }

  app.get('/', { schema: { summary: 'Ollama liveness', tags: ['ollama'] } }, async (_req, reply) =>
    reply.type('text/plain; charset=utf-8').send('Ollama is running'),
  )
  app.get(
    '/api/version',
    { schema: { summary: 'The Ollama API version spoken', tags: ['ollama'] } },
    async () => ({
      version: OLLAMA_COMPATIBLE_VERSION,
    }),
  )

  app.get('/api/tags', { schema: { summary: 'Models, Ollama style', tags: ['ollama'] } }, async () => ({
    models: (await backend.listModels()).map((m) => ({
      name: withTag(m.name),
      model: withTag(m.name),
      modified_at: new Date(0).toISOString(),
      size: m.sizeBytes,
      digest: digestOf(m),
      details: details(m),
    })),
  }))

  app.get('/api/ps', { schema: { summary: 'Models in memory', tags: ['ollama'] } }, async () => {
    const [loaded, models] = await Promise.all([
      backend.loadedModels(),
      backend.listModels().catch(() => [] as ModelInfo[]),
    ])
    return {
      models: loaded.map((l) => {
        const m = models.find((x) => x.name === l.name)
        return {
          name: withTag(l.name),
          model: withTag(l.name),
          size: l.memoryBytes,
          digest: m ? digestOf(m) : '',
          details: m ? details(m) : details({ name: l.name } as ModelInfo),
          // Models stay loaded until another replaces them or the node stops.
          expires_at: new Date(Date.now() + 24 * 3600_000).toISOString(),
          size_vram: 0,
          context_length: l.contextSize,
        }
      }),
    }
  })

  app.post(
    '/api/show',
    { schema: { summary: 'One model in detail', tags: ['ollama'], body: ShowBody }, ...documentedBody },
    async (req, reply) => {
      const body = (req.body ?? {}) as { model?: unknown; name?: unknown }
      const name = body.model ?? body.name
      if (typeof name !== 'string' || name === '')
        return reply.code(400).send(ollamaError('model is required'))
      const m = await find(name)
      if (!m) return reply.code(404).send(ollamaError(`model '${name}' not found`))
      const arch = m.family ?? 'llama'
      const ctx = servedContext(m)
      const capabilities = [
        'completion',
        'tools',
        ...(m.fim ? ['insert'] : []),
        ...(m.path ? ['embedding'] : []),
      ]
      return {
        license: '',
        modelfile: `FROM ${m.name}\nPARAMETER num_ctx ${ctx ?? ''}\n`,
        parameters: ctx === null ? '' : `num_ctx                        ${ctx}`,
        template: TEMPLATE,
        details: details(m),
        model_info: {
          'general.architecture': arch,
          'general.basename': m.basename ?? m.name,
          'general.size_label': m.parameters ?? '',
          ...(ctx === null ? {} : { [`${arch}.context_length`]: ctx }),
          ...(m.contextLength === null ? {} : { 'edgecoder.trained_context_length': m.contextLength }),
        },
        capabilities,
        modified_at: new Date(0).toISOString(),
      }
    },
  )

  admin?.register(app, backend)
}
