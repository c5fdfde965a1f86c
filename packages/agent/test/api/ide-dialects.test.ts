import { describe, expect, it } from 'vitest'
import { resolveModelName, withTag } from '../../src/api/routes/model-names.ts'
import {
  callMessage,
  parseToolReply,
  resultMessage,
  toolSchema,
  withTools,
} from '../../src/api/routes/tool-calls.ts'
import { suffixStop } from '../../src/inference/completion.ts'
import { grammarSchema } from '../../src/inference/json-schema.ts'

const weather = {
  name: 'get_weather',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
}
const time = { name: 'get_time' }

describe('model names', () => {
  it('resolves :latest, bare names and name:tag to the served model', () => {
    const served = ['gemma', 'qwen-0.5b']
    expect(resolveModelName('gemma:latest', served)).toBe('gemma')
    expect(resolveModelName('gemma', ['gemma:latest'])).toBe('gemma:latest')
    expect(resolveModelName('qwen:0.5b', served)).toBe('qwen-0.5b')
    expect(resolveModelName('nope:1b', served)).toBe('nope:1b')
    expect(withTag('gemma')).toBe('gemma:latest')
    expect(withTag('gemma:2b')).toBe('gemma:2b')
  })
})

describe('tool calls by prompt and grammar', () => {
  it('constrains a required call to the offered tools, one when parallel calls are off', () => {
    const s = toolSchema([weather, time], 'required', false) as {
      properties: { tool_calls: { maxItems: number; items: { oneOf: unknown[] } } }
    }
    expect(s.properties.tool_calls.maxItems).toBe(1)
    expect(s.properties.tool_calls.items.oneOf).toHaveLength(2)
  })

  it('lets auto answer in words or calls, narrows a named choice, and adds nothing for none', () => {
    expect((toolSchema([weather], 'auto') as { oneOf: unknown[] }).oneOf).toHaveLength(2)
    const named = toolSchema([weather, time], { name: 'get_time' }) as {
      properties: { tool_calls: { items: { properties: { name: { const: string } } } } }
    }
    expect(named.properties.tool_calls.items.properties.name.const).toBe('get_time')
    expect(toolSchema([weather], 'none')).toBeUndefined()
    expect(toolSchema([], 'auto')).toBeUndefined()
  })

  it('reads calls, words, and a reply cut short', () => {
    const calls = parseToolReply('{"tool_calls":[{"name":"get_weather","arguments":{"city":"Paris"}}]}')
    expect(calls.content).toBeNull()
    expect(calls.calls[0]).toMatchObject({ name: 'get_weather', arguments: { city: 'Paris' } })
    expect(calls.calls[0]!.id).toMatch(/^call_/)
    expect(parseToolReply('{"content":"hello"}')).toEqual({ content: 'hello', calls: [] })
    expect(parseToolReply('{"tool_calls":[{"na')).toEqual({ content: '{"tool_calls":[{"na', calls: [] })
  })

  it('writes earlier turns as the model would have, merging consecutive user turns', () => {
    const msgs = withTools(
      [
        { role: 'user', content: 'weather?' },
        callMessage([{ name: 'get_weather', arguments: { city: 'Paris' } }]),
        resultMessage('get_weather', '21'),
        { role: 'user', content: 'and now?' },
      ],
      [weather],
      'auto',
    )
    expect(msgs.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user'])
    expect(JSON.parse(msgs[2]!.content)).toEqual({
      tool_calls: [{ name: 'get_weather', arguments: { city: 'Paris' } }],
    })
    expect(msgs[3]!.content).toBe('Result of tool get_weather: 21\n\nand now?')
  })
})

describe('schemas for the grammar', () => {
  it('turns anyOf into oneOf, type lists into alternatives, definitions into $defs, and drops annotations', () => {
    expect(
      grammarSchema({
        $schema: 'x',
        title: 't',
        type: 'object',
        properties: {
          a: { anyOf: [{ type: 'string' }, { type: 'null' }] },
          b: { type: ['integer', 'null'] },
        },
        definitions: { d: { type: 'string' } },
      }),
    ).toEqual({
      type: 'object',
      properties: {
        a: { oneOf: [{ type: 'string' }, { type: 'null' }] },
        b: { oneOf: [{ type: 'integer' }, { type: 'null' }] },
      },
      $defs: { d: { type: 'string' } },
    })
  })
})

describe('fill-in-the-middle without FIM tokens', () => {
  it('stops at the first line of the suffix with text on it', () => {
    expect(suffixStop('\n\ndef sub(a, b):\n  return a - b')).toEqual(['def sub(a, b):'])
    expect(suffixStop('\n}\n')).toEqual([])
    expect(suffixStop(undefined)).toEqual([])
  })
})
