import { randomBytes } from 'node:crypto'
import type { ChatMessage, JsonSchema } from '../../inference/index.ts'

/** A function the client offers the model, in the shape both dialects share. */
export interface ToolSpec {
  name: string
  description?: string
  parameters?: JsonSchema
}

/** `auto`: the model answers or calls; `required`: it calls one; `{name}`: it calls that one. */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string }

export interface ToolCall {
  id: string
  name: string
  arguments: Record<string, unknown>
}

/** What the model's constrained reply meant. */
export interface ToolReply {
  content: string | null
  calls: ToolCall[]
}

export const newCallId = () => `call_${randomBytes(12).toString('base64url')}`

/**
 * Tool calling as a prompt plus a grammar: the tools are described in a system message and the
 * reply is constrained to `{"tool_calls":[{"name","arguments"}]}` (or `{"content"}` when the model
 * may answer in words). The same works on every model and travels to a peer as a JSON schema.
 */
export function toolSchema(tools: ToolSpec[], choice: ToolChoice, parallel = true): JsonSchema | undefined {
  if (tools.length === 0 || choice === 'none') return undefined
  const offered = typeof choice === 'object' ? tools.filter((t) => t.name === choice.name) : tools
  const call = (t: ToolSpec) => ({
    type: 'object',
    properties: {
      name: { const: t.name },
      arguments: t.parameters && Object.keys(t.parameters).length > 0 ? t.parameters : { type: 'object' },
    },
    required: ['name', 'arguments'],
  })
  const calls = {
    type: 'object',
    properties: {
      tool_calls: {
        type: 'array',
        items: offered.length === 1 ? call(offered[0]!) : { oneOf: offered.map(call) },
        minItems: 1,
        maxItems: parallel ? 4 : 1,
      },
    },
    required: ['tool_calls'],
  }
  if (choice !== 'auto') return calls
  const words = { type: 'object', properties: { content: { type: 'string' } }, required: ['content'] }
  return { oneOf: [calls, words] }
}

/** The system message that tells the model which tools it has and how to call them. */
export function toolPrompt(tools: ToolSpec[], choice: ToolChoice): string {
  const lines = tools.map(
    (t) =>
      `- ${t.name}${t.description ? `: ${t.description}` : ''}\n  arguments (JSON schema): ${JSON.stringify(t.parameters ?? { type: 'object' })}`,
  )
  const how =
    choice === 'auto'
      ? 'To call tools, reply with JSON {"tool_calls":[{"name":...,"arguments":{...}}]}. When a tool can help, call it; to answer in words instead, reply with JSON {"content":"..."}.'
      : 'Reply with JSON {"tool_calls":[{"name":...,"arguments":{...}}]} calling the tool that fits.'
  return `You have these tools:\n${lines.join('\n')}\n${how}`
}

/**
 * Reads the constrained reply. A reply cut short (token limit) is not JSON: it is passed on as
 * text, so the client sees what was written and the finish reason says why.
 */
export function parseToolReply(text: string): ToolReply {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return { content: text, calls: [] }
  }
  const p = parsed as { tool_calls?: { name?: unknown; arguments?: unknown }[]; content?: unknown }
  if (Array.isArray(p.tool_calls))
    return {
      content: null,
      calls: p.tool_calls.map((c) => ({
        id: newCallId(),
        name: String(c.name),
        arguments: (typeof c.arguments === 'object' && c.arguments !== null ? c.arguments : {}) as Record<
          string,
          unknown
        >,
      })),
    }
  return { content: typeof p.content === 'string' ? p.content : text, calls: [] }
}

/** How an earlier call appears in the conversation: as the model itself would have written it. */
export function callMessage(
  calls: { name: string; arguments: unknown }[],
  content?: string | null,
): ChatMessage {
  const json = JSON.stringify({ tool_calls: calls.map((c) => ({ name: c.name, arguments: c.arguments })) })
  return { role: 'assistant', content: content ? `${content}\n${json}` : json }
}

/** A tool's result, handed back to the model as the user's turn. */
export function resultMessage(name: string | undefined, content: string): ChatMessage {
  return { role: 'user', content: `Result of tool ${name ?? 'call'}: ${content}` }
}

/** Consecutive messages of one role merged: templates that alternate turns need it after tool results. */
export function withTools(messages: ChatMessage[], tools: ToolSpec[], choice: ToolChoice): ChatMessage[] {
  const out: ChatMessage[] = []
  if (tools.length > 0 && choice !== 'none') out.push({ role: 'system', content: toolPrompt(tools, choice) })
  for (const m of messages) {
    const last = out.at(-1)
    if (last && last.role === m.role && m.role !== 'assistant')
      out[out.length - 1] = { role: m.role, content: `${last.content}\n\n${m.content}` }
    else out.push(m)
  }
  return out
}

/** Arguments as OpenAI carries them: a JSON string, which a client may send malformed. */
export function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}
