import { describe, expect, it } from 'vitest'
import {
  type ChatBackend,
  type ChatRequest,
  type ChatResult,
  type ModelInfo,
  ModelNotFoundError,
} from '../../src/inference/index.ts'
import { MeshChatBackend } from '../../src/routing/mesh-chat.ts'
import type { RoutingOptions } from '../../src/routing/options.ts'
import type { MeshRouter } from '../../src/routing/router.ts'

/** This node's provider, scripted: its models can be taken away, and it counts its listings. */
class LocalModels implements ChatBackend {
  models: string[] = ['m']
  listings = 0
  chats = 0
  async listModels(): Promise<ModelInfo[]> {
    this.listings++
    return this.models.map((name) => ({ name, sizeBytes: 1, path: null }) as ModelInfo)
  }
  async chat(req: ChatRequest): Promise<ChatResult> {
    const name = req.model ?? this.models[0]
    if (name === undefined || !this.models.includes(name))
      throw new ModelNotFoundError(name ?? '(default)', this.models)
    this.chats++
    return { text: 'ok', model: name } as ChatResult
  }
  embed(): never {
    throw new Error('unused')
  }
  async load(model: string | undefined) {
    return model ?? 'm'
  }
  async loadedModels() {
    return []
  }
}

/** A mesh where no peer has any model: a request that isn't local ends as "not found". */
const emptyMesh = {
  pick: () => ({ best: null, capable: 0 }),
  meshModels: () => [],
} as unknown as MeshRouter

const hi = [{ role: 'user' as const, content: 'hi' }]

const backend = (local: LocalModels) =>
  new MeshChatBackend({
    options: { chatTries: 2, chatMaxTokens: 64 } as RoutingOptions,
    local,
    router: emptyMesh,
  })

describe('MeshChatBackend', () => {
  it('answers a model it has here without listing its models before every chat', async () => {
    const local = new LocalModels()
    const chat = backend(local)
    for (let i = 0; i < 5; i++)
      expect((await chat.chat({ model: 'm', messages: hi } as ChatRequest)).text).toBe('ok')
    expect(local.chats).toBe(5)
    expect(local.listings).toBe(1)
  })

  it('decides afresh when a model it had is gone: asked again, it lists and looks to the mesh', async () => {
    const local = new LocalModels()
    const chat = backend(local)
    await chat.chat({ model: 'm', messages: hi } as ChatRequest)
    local.models = ['other']
    await expect(chat.chat({ model: 'm', messages: hi } as ChatRequest)).rejects.toBeInstanceOf(
      ModelNotFoundError,
    )
    expect(local.listings).toBe(2)
    // The fresh listing is what it goes by now: the model it still has is answered here.
    expect((await chat.chat({ model: 'other', messages: hi } as ChatRequest)).model).toBe('other')
    expect(local.listings).toBe(2)
  })
})
