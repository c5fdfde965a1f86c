import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EmbeddedLlamaProvider, ModelLoadError, ModelNotFoundError } from '../../src/inference/index.ts'
import { testModelPath } from './test-model.ts'

// Resolved at load time so that a missing model fails the file outright rather than skipping its tests.
const model = testModelPath()
let dir: string
let provider: EmbeddedLlamaProvider

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgecoder-models-'))
  await symlink(model, join(dir, 'tiny.gguf'))
  await symlink(model, join(dir, '.tiny-copy.gguf')) // a download in progress
  await writeFile(join(dir, 'broken.gguf'), 'this is not a GGUF file')
  await writeFile(join(dir, 'notes.txt'), 'not a model')
  provider = new EmbeddedLlamaProvider({ modelsDir: dir, defaultModel: 'tiny', contextSize: 256, threads: 1 })
})
afterAll(async () => {
  await provider?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('models directory', () => {
  it('lists readable GGUF files only', async () => {
    const models = await provider.listModels()
    expect(models.map((m) => m.name)).toEqual(['tiny'])
    expect(models[0]).toMatchObject({
      family: 'gemma3',
      quantization: 'Q4_K_M',
      path: join(dir, 'tiny.gguf'),
    })
  })

  it('serves the default model from the directory', async () => {
    const result = await provider.chat({ messages: [{ role: 'user', content: 'Hi' }], maxTokens: 2 })
    expect(result.model).toBe('tiny')
    expect(result.completionTokens).toBeGreaterThan(0)
  })

  it('reports a file that is not GGUF as a load error, not a crash', async () => {
    const err = await provider
      .chat({ model: 'broken', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ModelLoadError)
    expect(err).toMatchObject({
      name: 'ModelLoadError',
      code: 'model_load_failed',
      path: join(dir, 'broken.gguf'),
    })
  })

  it('does not offer hidden files or other extensions', async () => {
    for (const model of ['.tiny-copy', 'notes']) {
      const err = await provider.chat({ model, messages: [{ role: 'user', content: 'Hi' }] }).catch((e) => e)
      expect(err).toBeInstanceOf(ModelNotFoundError)
      expect((err as ModelNotFoundError).available).toEqual(['broken', 'tiny'])
    }
  })

  it('treats a missing directory as empty', async () => {
    const empty = new EmbeddedLlamaProvider({ modelsDir: join(dir, 'absent') })
    expect(await empty.listModels()).toEqual([])
    const err = await empty.chat({ messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ModelNotFoundError)
    expect(await empty.status()).toMatchObject({ activeModel: null, loaded: false })
  })
})
