import { z } from 'zod'
import type { ChatMessage, JsonSchema } from '../../inference/index.ts'
import { callMessage, parseArguments, resultMessage } from './tool-calls.ts'

/** `POST /v1/chat/completions`: the body OpenAI's clients send, tools and follow-up turns included. */
const ContentPart = z.object({ type: z.literal('text'), text: z.string() })
const ToolCallIn = z.object({
  id: z.string().max(256),
  type: z.literal('function').default('function'),
  function: z.object({ name: z.string().min(1).max(128), arguments: z.string().max(256 * 1024) }),
})
const Message = z
  .object({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
    content: z.union([z.string(), z.array(ContentPart)]).nullish(),
    tool_calls: z.array(ToolCallIn).max(32).optional(),
    tool_call_id: z.string().max(256).optional(),
    name: z.string().max(128).optional(),
  })
  .refine((m) => m.content != null || (m.role === 'assistant' && (m.tool_calls?.length ?? 0) > 0), {
    message: 'content is required unless an assistant message has tool_calls',
    path: ['content'],
  })
  .refine((m) => m.role !== 'tool' || m.tool_call_id !== undefined, {
    message: 'a tool message needs tool_call_id',
    path: ['tool_call_id'],
  })
const Tool = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a function name is 1-64 letters, digits, _ or -'),
    description: z.string().max(8192).optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
})
const ToolChoiceIn = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) }),
])
const ResponseFormat = z.union([
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z
      .object({ name: z.string(), schema: z.record(z.string(), z.unknown()).optional() })
      .passthrough(),
  }),
])
export const ChatCompletionBody = z.object({
  model: z.string().min(1),
  messages: z.array(Message).min(1),
  stream: z.boolean().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  seed: z.number().int().nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
  n: z.literal(1).nullish(),
  tools: z.array(Tool).max(64).nullish(),
  tool_choice: ToolChoiceIn.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  response_format: ResponseFormat.nullish(),
})
export type Body = z.infer<typeof ChatCompletionBody>

/** The conversation with tool turns written as text the model reads. */
export function plainMessages(messages: Body['messages']): ChatMessage[] {
  const names = new Map<string, string>()
  return messages.map((m) => {
    const text =
      m.content == null
        ? ''
        : typeof m.content === 'string'
          ? m.content
          : m.content.map((p) => p.text).join('')
    if (m.role === 'tool') return resultMessage(names.get(m.tool_call_id ?? '') ?? m.name, text)
    if (m.role === 'assistant' && m.tool_calls?.length) {
      for (const c of m.tool_calls) names.set(c.id, c.function.name)
      return callMessage(
        m.tool_calls.map((c) => ({ name: c.function.name, arguments: parseArguments(c.function.arguments) })),
        text,
      )
    }
    return { role: m.role === 'developer' ? 'system' : m.role, content: text }
  })
}

export function formatOf(f: Body['response_format']): JsonSchema | undefined {
  if (!f || f.type === 'text') return undefined
  if (f.type === 'json_object') return { type: 'object' }
  return f.json_schema.schema ?? { type: 'object' }
}
