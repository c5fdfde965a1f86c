/** The model routes' bodies as the Model Manager panel reads them (see docs/models.md). */

/** One model of `GET /model/list`. */
export interface ManagedModel {
  name: string
  sizeBytes: number
  family: string | null
  parameters: string | null
  quantization: string | null
  contextLength: number | null
  servedContext?: number | null
  path: string | null
  active: boolean
  provider: string
}

export interface ModelList {
  provider: string
  models: ManagedModel[]
}

/** `GET /model/status`. */
export interface ModelStatus {
  provider: string
  activeModel: string | null
  loaded: boolean
  contextSize: number | null
  memoryBytes: number | null
  lastTokensPerSecond: number | null
  running: number
  queued: number
  reason: string
}

/** One line of `POST /model/pull`'s NDJSON progress. */
export interface PullProgress {
  status: 'downloading' | 'verifying' | 'success'
  completedBytes: number
  totalBytes: number | null
  fraction: number | null
  done?: true
}
