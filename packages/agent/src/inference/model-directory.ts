import { readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { modelNameFromPath, readModelInfo } from './gguf-info.ts'
import type { ModelInfo } from './types.ts'

/**
 * The GGUF files on offer: every `*.gguf` in a directory plus, optionally, one named file.
 * The directory is read on each call so that models added or removed by the model manager
 * show at once. Hidden files are skipped: downloads in progress live under dot names.
 */
export class ModelDirectory {
  readonly #dir: string | undefined
  readonly #file: string | undefined

  constructor(dir: string | undefined, file: string | undefined) {
    this.#dir = dir === undefined ? undefined : resolve(dir)
    this.#file = file === undefined ? undefined : resolve(file)
  }

  /** Model name to file path, sorted by name; the named file wins a name clash. */
  async entries(): Promise<Map<string, string>> {
    const found = new Map<string, string>()
    if (this.#dir !== undefined) {
      let files: string[] = []
      try {
        files = await readdir(this.#dir)
      } catch (err) {
        // A data dir without models yet is normal; anything else (permissions) is worth raising.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
      for (const file of files.sort()) {
        if (!file.startsWith('.') && /\.gguf$/i.test(file))
          found.set(modelNameFromPath(file), join(this.#dir, file))
      }
    }
    if (this.#file !== undefined) found.set(modelNameFromPath(this.#file), this.#file)
    // Code-point order, not localeCompare: a collator loads ICU's data, megabytes an idle agent keeps.
    return new Map([...found].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  }

  async names(): Promise<string[]> {
    return [...(await this.entries()).keys()]
  }

  /** The file for a model name; a trailing `.gguf` on the name is accepted. */
  async resolve(name: string): Promise<string | undefined> {
    return (await this.entries()).get(modelNameFromPath(name))
  }

  /** The named file's model, else the first by name; undefined when there are none. */
  async defaultName(): Promise<string | undefined> {
    if (this.#file !== undefined) return modelNameFromPath(this.#file)
    return (await this.names())[0]
  }

  /** Metadata of every readable model; files that are not valid GGUF are left out rather than failing the list. */
  async list(): Promise<ModelInfo[]> {
    const infos = await Promise.allSettled([...(await this.entries()).values()].map((p) => readModelInfo(p)))
    return infos.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  }
}
